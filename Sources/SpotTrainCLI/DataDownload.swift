import Crypto
import EC2Spot
import Foundation
import SpotTrain
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A data set `spottrain data download` can fetch: file names and the archives it accepts.
struct DownloadableDataSet: Sendable {
    /// One file of the data set and the exact archives accepted for it.
    struct File: Sendable {
        /// One acceptable archive: its size and SHA-256 (lowercase hex).
        struct Archive: Sendable {
            /// The size in bytes.
            let bytes: Int
            /// The SHA-256, lowercase hex.
            let sha256: String
        }

        /// The file name, on the mirror and on disk.
        let name: String
        /// The archives accepted (any one of them).
        let accepted: [Archive]

        /// The largest accepted archive, in bytes: the response cap of a download.
        var maximumBytes: Int { accepted.map(\.bytes).max() ?? 0 }

        /// Whether `bytes` is one of the accepted archives.
        /// - Parameter bytes: The candidate file.
        /// - Returns: The SHA-256 of `bytes` (lowercase hex) and whether it is accepted.
        func check(_ bytes: Data) -> (sha256: String, isAccepted: Bool) {
            let digest = SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
            return (digest, accepted.contains { $0.bytes == bytes.count && $0.sha256 == digest })
        }
    }

    /// The name on the command line (`mnist`).
    let name: String
    /// The files, in download order.
    let files: [File]
    /// The mirrors tried in order when no `--mirror` is given (base URLs ending in `/`).
    let defaultMirrors: [String]

    /// MNIST: the four gzipped IDX files.
    ///
    /// Each file has two accepted archives: the original distribution's, which the usual
    /// mirrors serve (sizes and SHA-256 as published alongside it and pinned by torchvision
    /// and TensorFlow Datasets), and the copy this repository ships in `Data/mnist`, the
    /// same IDX files recompressed with `gzip -9n` (`Data/mnist/SHA256SUMS`). Both
    /// decompress to the same bytes.
    static let mnist = DownloadableDataSet(
        name: "mnist",
        files: [
            File(name: "train-images-idx3-ubyte.gz", accepted: [
                .init(bytes: 9_912_422, sha256: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
                .init(bytes: 9_719_438, sha256: "0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971"),
            ]),
            File(name: "train-labels-idx1-ubyte.gz", accepted: [
                .init(bytes: 28_881, sha256: "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
                .init(bytes: 28_857, sha256: "1787548bbe0bff1ec2ecdc0ef292b02df999e2d1a6002d27500982c652b17203"),
            ]),
            File(name: "t10k-images-idx3-ubyte.gz", accepted: [
                .init(bytes: 1_648_877, sha256: "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
                .init(bytes: 1_616_508, sha256: "1a1a05eab793c14bb050b398624a11b0ffd1a2953baed553b1b9bd079e2a20be"),
            ]),
            File(name: "t10k-labels-idx1-ubyte.gz", accepted: [
                .init(bytes: 4_542, sha256: "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
                .init(bytes: 4_517, sha256: "b91679a0acfe4ba0e50a2437a903084cba1f5f92592b016a25a7dfd00455798b"),
            ]),
        ],
        defaultMirrors: [
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ])

    /// The data sets by command-line name.
    static let all: [String: DownloadableDataSet] = ["mnist": mnist]
}

/// Why a download did not complete.
struct DataDownloadError: Error, CustomStringConvertible {
    /// What kind of failure, which decides the exit status.
    enum Code {
        /// No mirror delivered the file, and at least one failed in a way a later attempt
        /// may not repeat (unreachable, timed out, an HTTP error status, a body cut short),
        /// or a local file could not be read or written: exit 1.
        case unavailable
        /// Every mirror delivered a complete body that is not an accepted archive (wrong
        /// SHA-256 or size): asking again gets the same bytes; exit 78.
        case wrongBytes
        /// A path in the way is not a regular file (a directory, a FIFO, …): exit 64.
        case notRegularFile
    }

    /// The kind of failure.
    let code: Code
    /// What failed, naming the file and every mirror's answer.
    let message: String
    /// The underlying error, if one caused it.
    let underlying: (any Error)?

    var description: String { message + (underlying.map { " (\($0))" } ?? "") }

    /// The exit status for ``code``.
    var exitStatus: Int32 {
        switch code {
        case .unavailable: return ExitStatus.failure
        case .wrongBytes: return ExitStatus.configuration
        case .notRegularFile: return ExitStatus.usage
        }
    }
}

/// Fetches a ``DownloadableDataSet`` into a directory: each file that is not already present
/// and valid is requested from each mirror in turn, verified (size and SHA-256) and written
/// atomically (a temporary file in the same directory, fsync, rename, fsync the directory),
/// so that the final name never holds a partial or unverified file.
struct DataDownloader {
    /// What happened to one file.
    enum Outcome: Equatable {
        /// It was already there and valid; nothing was fetched.
        case present
        /// It was fetched from this URL.
        case downloaded(URL)
    }

    /// Where requests go (the project's HTTP stack; a fake in tests of the type).
    let transport: any HTTPTransport
    /// Base URLs, tried in order; each ends in `/`.
    let mirrors: [URL]
    /// The deadline of one request, body included.
    let timeout: Duration
    /// Receives one line per fallback (a mirror that failed and why).
    let notice: (String) -> Void

    /// Makes sure every file of `dataSet` is in `directory`, valid.
    /// - Parameters:
    ///   - dataSet: What to fetch.
    ///   - directory: Where (it must exist).
    ///   - report: Called once per file, in order, when it is done.
    /// - Throws: ``DataDownloadError`` for the first file that could not be made valid.
    func fetch(_ dataSet: DownloadableDataSet, into directory: String,
               report: (DownloadableDataSet.File, Outcome, String) -> Void) async throws {
        for file in dataSet.files {
            let path = directory + "/" + file.name
            if let existing = try Self.existingContents(path, limit: file.maximumBytes) {
                if let bytes = existing.bytes {
                    let (digest, accepted) = file.check(bytes)
                    if accepted {
                        report(file, .present, digest)
                        continue
                    }
                    notice("\(path) exists but is not a known \(dataSet.name) archive (\(existing.size) bytes, sha256 \(digest)); fetching it again")
                } else {
                    notice("\(path) exists but is larger than any known \(dataSet.name) archive (\(existing.size) bytes); fetching it again")
                }
            }
            let (url, bytes, digest) = try await download(file)
            do {
                try Self.writeAtomically(bytes, to: path)
            } catch {
                throw DataDownloadError(code: .unavailable, message: "cannot write \(path)", underlying: error)
            }
            report(file, .downloaded(url), digest)
        }
    }

    /// Tries every mirror for `file`; returns the first accepted body.
    private func download(_ file: DownloadableDataSet.File) async throws -> (URL, Data, String) {
        var failures: [String] = []
        var allWrongBytes = true
        for (index, mirror) in mirrors.enumerated() {
            let url = mirror.appendingPathComponent(file.name)
            let request = HTTPRequest(method: "GET", url: url, timeout: timeout,
                                      maximumResponseBytes: file.maximumBytes)
            let failure: String
            do {
                let response = try await transport.send(request)
                if response.status == 200 {
                    let (digest, accepted) = file.check(response.body)
                    if accepted { return (url, response.body, digest) }
                    failure = "\(url.absoluteString): served \(response.body.count) bytes with sha256 \(digest), not a known archive of \(file.name)"
                } else {
                    allWrongBytes = false
                    failure = "\(url.absoluteString): HTTP \(response.status)"
                }
            } catch let error as TransportError where error.kind == .responseTooLarge {
                failure = "\(url.absoluteString): larger than any known archive of \(file.name) (\(file.maximumBytes) bytes at most): \(error.message)"
            } catch let error as TransportError {
                allWrongBytes = false
                failure = "\(url.absoluteString): \(error)"
            }
            failures.append(failure)
            notice(failure + (index == mirrors.count - 1 ? "" : "; trying the next mirror"))
        }
        let summary = failures.joined(separator: "; ")
        if allWrongBytes {
            throw DataDownloadError(code: .wrongBytes, message: "every mirror served wrong bytes for \(file.name): \(summary)", underlying: nil)
        }
        throw DataDownloadError(code: .unavailable, message: "no mirror delivered \(file.name): \(summary)", underlying: nil)
    }

    /// The size of `path` and, when it is no larger than `limit`, its bytes (a larger file is
    /// replaced without being read); nil when nothing is there.
    /// - Throws: ``DataDownloadError`` when something other than a regular file is there or
    ///   it cannot be read.
    static func existingContents(_ path: String, limit: Int) throws -> (size: Int, bytes: Data?)? {
        var info = stat()
        if stat(path, &info) != 0 {
            let number = errno
            var link = stat()
            if number == ENOENT, lstat(path, &link) == 0 {
                throw DataDownloadError(code: .notRegularFile, message: "\(path) is a dangling symbolic link", underlying: nil)
            }
            if number == ENOENT { return nil }
            throw DataDownloadError(code: .unavailable, message: "cannot examine \(path): \(String(cString: strerror(number)))",
                                    underlying: nil)
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw DataDownloadError(code: .notRegularFile,
                                    message: "\(path) is \(POSIXCheckpointFileSystem.fileKind(info.st_mode & S_IFMT)), not a regular file",
                                    underlying: nil)
        }
        let size = Int(info.st_size)
        if size > limit { return (size, nil) }
        do {
            return (size, try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw DataDownloadError(code: .unavailable, message: "cannot read \(path)", underlying: error)
        }
    }

    /// Writes `bytes` to `path` durably and atomically: `.<name>.tmp-<pid>-<random>` in the
    /// same directory, fsync, rename over `path`, fsync the directory. The temporary file is
    /// removed if any step before the rename fails.
    /// - Throws: ``CheckpointError`` (code `io`) naming the file.
    static func writeAtomically(_ bytes: Data, to path: String) throws {
        let fileSystem = POSIXCheckpointFileSystem()
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        let temporary = directory + "/." + url.lastPathComponent
            + ".tmp-\(getpid())-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let fd = try fileSystem.createFile(atPath: temporary)
        var open = true
        do {
            try bytes.withUnsafeBytes { try fileSystem.write(fd, $0) }
            try fileSystem.synchronize(fd)
            open = false
            try fileSystem.close(fd)
            try fileSystem.rename(temporary, to: path)
        } catch {
            if open { try? fileSystem.close(fd) }
            try? fileSystem.removeFile(atPath: temporary)
            throw error
        }
        try fileSystem.synchronizeDirectory(atPath: directory)
    }
}
