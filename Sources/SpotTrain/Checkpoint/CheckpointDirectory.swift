#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A checkpoint file in a ``CheckpointDirectory``.
public struct CheckpointFile: Sendable, Equatable, Hashable {
    /// The full path.
    public var path: String
    /// The file name, `ckpt-<global step, 12 digits>.spt`.
    public var name: String
    /// The global step in the name.
    public var globalStep: Int

    /// Creates a file entry.
    /// - Parameters:
    ///   - path: The full path.
    ///   - name: The file name.
    ///   - globalStep: The step the name encodes.
    public init(path: String, name: String, globalStep: Int) {
        self.path = path
        self.name = name
        self.globalStep = globalStep
    }
}

/// A checkpoint that was read and verified, with the file it came from.
public struct LoadedCheckpoint {
    /// The file.
    public var file: CheckpointFile
    /// Its content.
    public var checkpoint: Checkpoint
}

/// A checkpoint file that was found invalid, and why.
public struct SkippedCheckpoint: Sendable, Equatable {
    /// The file.
    public var file: CheckpointFile
    /// Why it was skipped.
    public var reason: CheckpointError
}

/// The result of ``CheckpointDirectory/latestValid()``.
public struct CheckpointScan {
    /// The newest checkpoint that verified, or nil to start fresh.
    public var latest: LoadedCheckpoint?
    /// Newer files that failed verification, newest first; log each as a warning.
    public var skipped: [SkippedCheckpoint]
}

/// The verification result of one file, from ``CheckpointDirectory/verifyAll()``.
public struct CheckpointVerification: Sendable, Equatable {
    /// The file.
    public var file: CheckpointFile
    /// Nil if the file is valid, otherwise why not.
    public var error: CheckpointError?
    /// The global step its metadata records, when its content verified (also for a valid
    /// checkpoint under a wrong name, code ``CheckpointError/Code/nameMismatch``).
    public var contentGlobalStep: Int?
    /// Whether the file is valid.
    public var isValid: Bool { error == nil }

    /// Creates a result.
    /// - Parameters:
    ///   - file: The file.
    ///   - error: Why it is invalid, or nil.
    ///   - contentGlobalStep: The global step of its verified content, if any.
    public init(file: CheckpointFile, error: CheckpointError?, contentGlobalStep: Int? = nil) {
        self.file = file
        self.error = error
        self.contentGlobalStep = contentGlobalStep
    }
}

/// A directory of checkpoints named by global step: listing, saving, finding the newest
/// valid checkpoint, retention and cleanup of interrupted saves.
///
/// Files are named `ckpt-<global step, zero-padded to 12 digits>.spt` and listed in the
/// order of the step parsed from the name; a file is valid only if its name is exactly the
/// name of the global step its verified metadata records (a valid checkpoint under another
/// name is reported with ``CheckpointError/Code/nameMismatch`` and never resumed from).
/// Temporary files of saves in progress or interrupted (`.ckpt-….spt.tmp-<pid>-<random>`)
/// and unrelated files are ignored by every listing; ``cleanStaleTemporaryFiles()`` (which
/// ``save(_:)`` calls first) removes those whose process is gone. One process writes to a
/// directory at a time: take ``lock()`` before the first write.
public struct CheckpointDirectory: Sendable {
    /// The directory.
    public let path: String
    /// The writer used by ``save(_:)``.
    public let writer: CheckpointWriter
    /// The reader used to verify and load.
    public let reader: CheckpointReader
    /// File operations.
    public let fileSystem: any CheckpointFileSystem

    /// The file-name prefix of checkpoints.
    public static let prefix = "ckpt-"

    /// Creates a directory handle (nothing is created until ``save(_:)``).
    /// - Parameters:
    ///   - path: The directory.
    ///   - options: How ``save(_:)`` stores payloads.
    ///   - fileSystem: File operations; inject a failing one in tests.
    public init(path: String, options: CheckpointWriter.Options = .default,
                fileSystem: any CheckpointFileSystem = POSIXCheckpointFileSystem()) {
        self.path = path
        self.fileSystem = fileSystem
        self.writer = CheckpointWriter(options: options, fileSystem: fileSystem)
        self.reader = CheckpointReader(fileSystem: fileSystem)
    }

    // MARK: Names

    /// The file name for a global step: `ckpt-000000001234.spt`.
    /// - Parameter globalStep: A step ≥ 0.
    /// - Returns: The name (more than 12 digits only for steps ≥ 10¹²).
    public static func fileName(forGlobalStep globalStep: Int) -> String {
        precondition(globalStep >= 0, "CheckpointDirectory.fileName: negative global step \(globalStep)")
        let digits = String(globalStep)
        return prefix + String(repeating: "0", count: max(0, 12 - digits.count)) + digits + "." + CheckpointFormat.fileExtension
    }

    /// The global step encoded in a checkpoint file name, or nil for any other name.
    /// - Parameter name: A file name (no directory).
    /// - Returns: The step.
    public static func globalStep(fromFileName name: String) -> Int? {
        let suffix = "." + CheckpointFormat.fileExtension
        guard name.hasPrefix(prefix), name.hasSuffix(suffix) else { return nil }
        let digits = name.dropFirst(prefix.count).dropLast(suffix.count)
        guard digits.count >= 12, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Int(digits)
    }

    /// Whether `name` is a temporary file of a checkpoint save.
    /// - Parameter name: A file name (no directory).
    /// - Returns: True for `.ckpt-….tmp-…` names.
    public static func isTemporaryFileName(_ name: String) -> Bool {
        name.hasPrefix("." + prefix) && name.contains(".tmp-")
    }

    /// The path of the checkpoint for `globalStep` in this directory.
    /// - Parameter globalStep: A step ≥ 0.
    /// - Returns: `<path>/ckpt-….spt`.
    public func filePath(forGlobalStep globalStep: Int) -> String {
        path + "/" + CheckpointDirectory.fileName(forGlobalStep: globalStep)
    }

    // MARK: Listing

    /// The checkpoint files, oldest (lowest step) first; temporary and unrelated files are
    /// not listed. A missing directory has no checkpoints.
    /// - Returns: The files.
    /// - Throws: ``CheckpointError`` if the directory exists but cannot be read.
    public func list() throws -> [CheckpointFile] {
        try entries().compactMap { name in
            CheckpointDirectory.globalStep(fromFileName: name).map {
                CheckpointFile(path: path + "/" + name, name: name, globalStep: $0)
            }
        }.sorted { ($0.globalStep, $0.name) < ($1.globalStep, $1.name) }
    }

    private func entries() throws -> [String] {
        do {
            return try fileSystem.contentsOfDirectory(atPath: path)
        } catch let error as CheckpointError where error.systemErrorNumber == ENOENT {
            return []
        }
    }

    // MARK: Saving

    /// Saves a checkpoint as `ckpt-<metadata.globalStep>.spt`, durably and atomically
    /// (see ``CheckpointWriter/write(_:to:)``), after creating the directory if needed and
    /// removing stale temporary files of earlier interrupted saves.
    ///
    /// If this throws, every existing checkpoint is intact; do not call ``prune(keep:)``
    /// after a failed save.
    /// - Parameter checkpoint: The checkpoint.
    /// - Returns: The file written.
    /// - Throws: ``CheckpointError``.
    @discardableResult
    public func save(_ checkpoint: Checkpoint) throws -> CheckpointFile {
        try fileSystem.createDirectory(atPath: path)
        _ = try? cleanStaleTemporaryFiles()
        let step = checkpoint.metadata.globalStep
        let file = CheckpointFile(path: filePath(forGlobalStep: step),
                                  name: CheckpointDirectory.fileName(forGlobalStep: step), globalStep: step)
        try writer.write(checkpoint, to: file.path)
        return file
    }

    /// Removes temporary files left by interrupted saves, and only those provably dead: the
    /// process named in the file name (`.tmp-<pid>-…`) no longer exists. A temporary file of
    /// this process, of a live process, or without a readable process id is left alone, so
    /// a concurrent save is never broken (``save(_:)`` calls this before writing).
    /// - Returns: The names removed.
    /// - Throws: ``CheckpointError`` if the directory cannot be listed or a file cannot be
    ///   removed.
    @discardableResult
    public func cleanStaleTemporaryFiles() throws -> [String] {
        var removed: [String] = []
        for name in try entries() where CheckpointDirectory.isTemporaryFileName(name) {
            guard let pid = CheckpointDirectory.processIdentifier(inTemporaryFileName: name),
                  pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            do {
                try fileSystem.removeFile(atPath: path + "/" + name)
            } catch let error as CheckpointError where error.systemErrorNumber == ENOENT {
                continue
            }
            removed.append(name)
        }
        return removed.sorted()
    }

    /// The process id in a temporary file name `.ckpt-….spt.tmp-<pid>-<random>`.
    /// - Parameter name: A temporary file name.
    /// - Returns: The id, or nil if the name holds none (or one out of range).
    public static func processIdentifier(inTemporaryFileName name: String) -> pid_t? {
        let bytes = Array(name.utf8), marker = Array(".tmp-".utf8)
        guard bytes.count > marker.count else { return nil }
        var start: Int?
        for i in stride(from: bytes.count - marker.count, through: 0, by: -1)
        where bytes[i..<(i + marker.count)].elementsEqual(marker) {
            start = i + marker.count
            break
        }
        guard let start else { return nil }
        let digits = bytes[start...].prefix(while: { $0 >= 0x30 && $0 <= 0x39 })
        guard !digits.isEmpty, digits.count <= 10 else { return nil }
        let value = digits.reduce(Int64(0)) { $0 * 10 + Int64($1 - 0x30) }
        guard value > 0, value <= Int64(Int32.max) else { return nil }
        return pid_t(value)
    }

    // MARK: Loading

    /// Finds the newest checkpoint that passes every check: verifies candidates newest
    /// first and returns the first good one, with the newer ones it skipped and why.
    /// - Returns: The checkpoint (nil when there is none, e.g. a fresh run) and the skipped files.
    /// - Throws: ``CheckpointError`` only if the directory cannot be listed.
    public func latestValid() throws -> CheckpointScan {
        var skipped: [SkippedCheckpoint] = []
        for file in try list().reversed() {
            do {
                let checkpoint = try reader.read(atPath: file.path)
                try CheckpointDirectory.checkName(file, checkpoint.metadata)
                return CheckpointScan(latest: LoadedCheckpoint(file: file, checkpoint: checkpoint), skipped: skipped)
            } catch let error as CheckpointError {
                skipped.append(SkippedCheckpoint(file: file, reason: error.at(file.path)))
            } catch {
                skipped.append(SkippedCheckpoint(file: file, reason: CheckpointError(.io, "\(error)", path: file.path)))
            }
        }
        return CheckpointScan(latest: nil, skipped: skipped)
    }

    /// Verifies every checkpoint file completely.
    /// - Returns: One result per file, oldest first.
    /// - Throws: ``CheckpointError`` only if the directory cannot be listed.
    public func verifyAll() throws -> [CheckpointVerification] {
        try list().map(verify)
    }

    /// Verifies one checkpoint file completely: its content (see
    /// ``CheckpointReader/verify(atPath:)``) and that its name is the name of the global
    /// step its metadata records.
    /// - Parameter file: A file of this directory.
    /// - Returns: The result.
    public func verify(_ file: CheckpointFile) -> CheckpointVerification {
        do {
            let metadata = try reader.verify(atPath: file.path)
            do {
                try CheckpointDirectory.checkName(file, metadata)
                return CheckpointVerification(file: file, error: nil, contentGlobalStep: metadata.globalStep)
            } catch let error as CheckpointError {
                return CheckpointVerification(file: file, error: error, contentGlobalStep: metadata.globalStep)
            }
        } catch let error as CheckpointError {
            return CheckpointVerification(file: file, error: error.at(file.path))
        } catch {
            return CheckpointVerification(file: file, error: CheckpointError(.io, "\(error)", path: file.path))
        }
    }

    /// Checks that a file's name is the name of the global step its metadata records.
    /// - Parameters:
    ///   - file: The file.
    ///   - metadata: Its verified metadata.
    /// - Throws: ``CheckpointError`` with code ``CheckpointError/Code/nameMismatch``.
    public static func checkName(_ file: CheckpointFile, _ metadata: CheckpointMetadata) throws {
        let step = metadata.globalStep
        guard step >= 0 else {
            throw CheckpointError(.invalidMetadata, "global_step \(step) is negative", path: file.path)
        }
        let expected = fileName(forGlobalStep: step)
        guard file.name == expected else {
            throw CheckpointError(.nameMismatch,
                                  "the file name says global step \(file.globalStep) but its metadata records global step \(step) (its name would be \(expected))",
                                  path: file.path)
        }
    }
}
