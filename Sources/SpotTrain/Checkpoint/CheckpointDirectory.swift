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
    /// Whether the file is valid.
    public var isValid: Bool { error == nil }
}

/// A directory of checkpoints named by global step: listing, saving, finding the newest
/// valid checkpoint, retention and cleanup of interrupted saves.
///
/// Files are named `ckpt-<global step, zero-padded to 12 digits>.spt` and ordered by the
/// step parsed from the name. Temporary files of saves in progress or interrupted
/// (`.ckpt-….spt.tmp-<pid>-<random>`) and unrelated files are ignored by every listing and
/// removed by ``cleanStaleTemporaryFiles()`` (which ``save(_:)`` calls first). One process
/// writes to a directory at a time.
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

    /// Removes temporary files left by interrupted saves. Call it only when no save is in
    /// progress in this directory (``save(_:)`` does, before writing).
    /// - Returns: The names removed.
    /// - Throws: ``CheckpointError`` if the directory cannot be listed or a file cannot be
    ///   removed.
    @discardableResult
    public func cleanStaleTemporaryFiles() throws -> [String] {
        var removed: [String] = []
        for name in try entries() where CheckpointDirectory.isTemporaryFileName(name) {
            try fileSystem.removeFile(atPath: path + "/" + name)
            removed.append(name)
        }
        return removed.sorted()
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
        try list().map { file in
            CheckpointVerification(file: file, error: verificationError(file))
        }
    }

    private func verificationError(_ file: CheckpointFile) -> CheckpointError? {
        do {
            try reader.verify(atPath: file.path)
            return nil
        } catch let error as CheckpointError {
            return error.at(file.path)
        } catch {
            return CheckpointError(.io, "\(error)", path: file.path)
        }
    }

    // MARK: Retention

    /// Keeps the `keep` newest valid checkpoints and deletes every checkpoint file older
    /// than the oldest of them (valid or not).
    ///
    /// Files are verified newest first until `keep` valid ones are found; invalid files
    /// newer than that are left alone (they are skipped by ``latestValid()`` and replaced
    /// when training reaches their step again). If fewer than `keep` valid files exist,
    /// nothing is deleted. So the newest valid checkpoint is never deleted. Call it only
    /// after a successful ``save(_:)``, never after a failed one.
    /// - Parameter keep: How many valid checkpoints to keep (at least 1).
    /// - Returns: The files deleted, oldest first.
    /// - Throws: ``CheckpointError`` if listing or a deletion fails (earlier deletions stand).
    @discardableResult
    public func prune(keep: Int) throws -> [CheckpointFile] {
        precondition(keep >= 1, "CheckpointDirectory.prune: keep \(keep) must be at least 1")
        let files = try list()
        var valid = 0
        var cutoff: Int?
        for index in files.indices.reversed() where verificationError(files[index]) == nil {
            valid += 1
            if valid == keep {
                cutoff = index
                break
            }
        }
        guard let cutoff else { return [] }
        var deleted: [CheckpointFile] = []
        for file in files[..<cutoff] {
            try fileSystem.removeFile(atPath: file.path)
            deleted.append(file)
        }
        return deleted
    }
}
