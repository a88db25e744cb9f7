import Crypto
import EC2Spot
import Foundation
import SpotTrain
import SpotTrainS3
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why `--data s3://BUCKET/PREFIX` could not be made into a local data directory.
struct S3DataError: Error, CustomStringConvertible {
    /// What kind of failure, which decides the exit status.
    enum Code: Sendable {
        /// No object under the prefix has any accepted name of an MNIST file (or the bucket
        /// holds none of them): exit 78, naming every key tried.
        case missingObject
        /// S3 refused the request (access denied, no such bucket, bad credentials): exit 78.
        case refused
        /// An object is not what the prefix promises: its SHA-256 differs from the prefix's
        /// `SHA256SUMS`, `SHA256SUMS` does not list it or cannot be read, or its IDX header
        /// is not an MNIST file's: exit 78.
        case wrongBytes
        /// A failure a later attempt may not repeat (network, throttling, 5xx, an object that
        /// changed during the download, a local write that failed): exit 1.
        case unavailable
    }

    /// The kind of failure.
    let code: Code
    /// What failed, naming the `s3://` key or the local file.
    let message: String
    /// The underlying error (an ``S3Error``, an ``IDXError``, an I/O error), if any.
    let underlying: (any Error)?

    var description: String { message + (underlying.map { " (\($0))" } ?? "") }

    /// The exit status for ``code``: 78, except 1 for ``Code/unavailable``.
    var exitStatus: Int32 { code == .unavailable ? ExitStatus.failure : ExitStatus.configuration }
}

/// The four MNIST IDX files under an S3 prefix, downloaded once into a local directory.
///
/// Under `s3://BUCKET/PREFIX/` each file is looked for by the names a local `--data`
/// directory accepts (``MNIST/candidateNames(for:)``: raw, `.gz`, dotted variants), in that
/// order. When the prefix holds a `SHA256SUMS` file (`sha256sum` format), every file used
/// must be listed there and match. A local copy is reused when its size equals the object's
/// (and its SHA-256 the listed one); otherwise the object is downloaded, checked (size,
/// SHA-256, its IDX header) and written atomically (temporary file, fsync, rename, fsync of
/// the directory), so a run killed mid-download never leaves a file that looks complete.
/// The other accepted names of the same file are removed from the local directory, so the
/// loader cannot pick a stale copy.
struct S3DataSource: Sendable {
    /// What happened to one file.
    enum Outcome: Equatable, Sendable {
        /// The local copy matched; nothing was downloaded.
        case reused
        /// Downloaded (this many bytes).
        case downloaded(Int)
    }

    /// The name of the optional checksum file under the prefix.
    static let checksumsName = "SHA256SUMS"
    /// The largest object accepted as one IDX file (the raw MNIST training images are 47 MB).
    static let maximumFileBytes = 1 << 30
    /// The largest `SHA256SUMS` accepted.
    static let maximumChecksumsBytes = 1 << 20

    /// The S3 client.
    let client: S3Client
    /// The bucket.
    let bucket: String
    /// The prefix, without leading or trailing `/` (empty for the bucket root).
    let prefix: String

    /// The key of `name` under the prefix.
    func key(_ name: String) -> String { prefix.isEmpty ? name : prefix + "/" + name }

    /// `s3://BUCKET/KEY` of `name`.
    func location(_ name: String) -> String { "s3://\(bucket)/\(key(name))" }

    /// Makes sure `directory` holds the four files, valid.
    /// - Parameters:
    ///   - directory: The local directory (created with its parents when missing).
    ///   - report: Called once per file, in order, with its name and what was done.
    /// - Throws: ``S3DataError``.
    func fetch(into directory: String, report: @Sendable (String, Outcome) -> Void) async throws {
        let listed = try await objects()
        let sums = try await checksums(listed)
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw S3DataError(code: .unavailable, message: "cannot create the data cache directory \(directory)", underlying: error)
        }
        for standard in MNIST.standardFileNames {
            let candidates = MNIST.candidateNames(for: standard)
            guard let name = candidates.first(where: { listed[$0] != nil }), let size = listed[name] else {
                throw S3DataError(code: .missingObject,
                                  message: "missing MNIST file in s3://\(bucket)/\(key("")): none of "
                                      + candidates.map(location).joined(separator: ", ") + " exists",
                                  underlying: nil)
            }
            var expected: String?
            if let sums {
                guard let digest = sums[name] else {
                    throw S3DataError(code: .wrongBytes, message: "\(location(Self.checksumsName)) does not list \(name)",
                                      underlying: nil)
                }
                expected = digest
            }
            let path = directory + "/" + name
            for other in candidates where other != name {
                try removeStale(directory + "/" + other)
            }
            if try isValidCopy(path, size: size, sha256: expected) {
                report(name, .reused)
                continue
            }
            try await download(name, size: size, sha256: expected, to: path)
            report(name, .downloaded(size))
        }
    }

    /// The objects directly under the prefix, by name, with their sizes.
    private func objects() async throws -> [String: Int] {
        let listPrefix = key("")
        let summaries: [S3ObjectSummary]
        do {
            summaries = try await client.listObjects(bucket: bucket, prefix: listPrefix)
        } catch {
            throw Self.failure(error, "cannot list s3://\(bucket)/\(listPrefix)")
        }
        var names: [String: Int] = [:]
        for object in summaries where object.key.hasPrefix(listPrefix) {
            let name = String(object.key.dropFirst(listPrefix.count))
            if !name.isEmpty, !name.contains("/") { names[name] = object.size }
        }
        return names
    }

    /// The prefix's `SHA256SUMS` as name → lowercase hex, or nil when there is none.
    private func checksums(_ listed: [String: Int]) async throws -> [String: String]? {
        guard listed[Self.checksumsName] != nil else { return nil }
        let content: S3ObjectContent
        do {
            content = try await client.getObject(bucket: bucket, key: key(Self.checksumsName), maxBytes: Self.maximumChecksumsBytes)
        } catch {
            throw Self.failure(error, "cannot read \(location(Self.checksumsName))")
        }
        guard let sums = Self.parseChecksums(content.body) else {
            throw S3DataError(code: .wrongBytes,
                              message: "\(location(Self.checksumsName)) is not a sha256sum file (lines of 64 hex digits, "
                                  + "two spaces or ' *', and a file name)",
                              underlying: nil)
        }
        return sums
    }

    /// Parses `sha256sum` output: `<64 hex>  <name>` or `<64 hex> *<name>` per line (blank
    /// lines ignored).
    /// - Parameter bytes: The file.
    /// - Returns: Name → lowercase hex, or nil when a line is not in that form.
    static func parseChecksums(_ bytes: Data) -> [String: String]? {
        guard let text = String(data: bytes, encoding: .utf8) else { return nil }
        var sums: [String: String] = [:]
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if line.allSatisfy(\.isWhitespace) { continue }
            guard line.count > 66 else { return nil }
            let digest = line.prefix(64)
            let separator = line.dropFirst(64).prefix(2)
            guard digest.allSatisfy(\.isHexDigit), separator == "  " || separator == " *" else { return nil }
            let name = String(line.dropFirst(66))
            guard !name.isEmpty else { return nil }
            sums[name.hasPrefix("./") ? String(name.dropFirst(2)) : name] = digest.lowercased()
        }
        return sums
    }

    /// Whether `path` holds the object already (its size, and its SHA-256 when known).
    private func isValidCopy(_ path: String, size: Int, sha256: String?) throws -> Bool {
        let existing: (size: Int, bytes: Data?)?
        do {
            existing = try DataDownloader.existingContents(path, limit: sha256 == nil ? 0 : size)
        } catch let error as DataDownloadError {
            throw S3DataError(code: error.code == .notRegularFile ? .wrongBytes : .unavailable, message: error.message,
                              underlying: error.underlying)
        }
        guard let existing, existing.size == size else { return false }
        guard let sha256 else { return true }
        guard let bytes = existing.bytes else { return false }
        return Self.hex(bytes) == sha256
    }

    /// Removes a file of another accepted name of the same MNIST file.
    private func removeStale(_ path: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        do {
            try FileManager.default.removeItem(atPath: path)
        } catch {
            throw S3DataError(code: .unavailable, message: "cannot remove the stale cached file \(path)", underlying: error)
        }
    }

    /// Downloads one object, checks it and writes it atomically.
    private func download(_ name: String, size: Int, sha256: String?, to path: String) async throws {
        guard size <= Self.maximumFileBytes else {
            throw S3DataError(code: .wrongBytes, message: "\(location(name)) is \(size) bytes, larger than any IDX file accepted "
                                  + "(\(Self.maximumFileBytes) bytes)", underlying: nil)
        }
        let content: S3ObjectContent
        do {
            content = try await client.getObject(bucket: bucket, key: key(name), maxBytes: Self.maximumFileBytes)
        } catch {
            throw Self.failure(error, "cannot download \(location(name))")
        }
        guard content.body.count == size else {
            throw S3DataError(code: .unavailable, message: "\(location(name)) changed during the download (listed with \(size) "
                                  + "bytes, \(content.body.count) received); run again", underlying: nil)
        }
        if let sha256 {
            let digest = Self.hex(content.body)
            guard digest == sha256 else {
                throw S3DataError(code: .wrongBytes, message: "\(location(name)) has SHA-256 \(digest), but "
                                      + "\(location(Self.checksumsName)) lists \(sha256)", underlying: nil)
            }
        }
        do {
            try DataDownloader.writeAtomically(content.body, to: path)
        } catch {
            throw S3DataError(code: .unavailable, message: "cannot write \(path)", underlying: error)
        }
        do {
            _ = try IDXReader().readHeader(path)
        } catch {
            try? FileManager.default.removeItem(atPath: path)
            throw S3DataError(code: .wrongBytes, message: "\(location(name)) is not an IDX file", underlying: error)
        }
    }

    /// The ``S3DataError`` of a failed S3 request: `NoSuchKey` is a missing object, a refusal
    /// (access denied, no such bucket, bad credentials) is refused, the rest is unavailable.
    static func failure(_ error: any Error, _ what: String) -> S3DataError {
        guard let s3Error = error as? S3Error else {
            return S3DataError(code: .unavailable, message: what, underlying: error)
        }
        switch S3CheckpointStore.storeErrorCode(for: s3Error) {
        case .notFound: return S3DataError(code: .missingObject, message: what, underlying: s3Error)
        case .refused: return S3DataError(code: .refused, message: what, underlying: s3Error)
        default: return S3DataError(code: .unavailable, message: what, underlying: s3Error)
        }
    }

    /// The SHA-256 of `bytes`, lowercase hex.
    static func hex(_ bytes: Data) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }
}
