#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The local directory as a ``CheckpointStore``: the same files ``save(_:)`` writes, with
/// ``put(_:bytes:)`` as atomic and durable as a save (temp file, fsync, rename, fsync the
/// directory). Useful as a mirror on a second disk or a network file system, and as the
/// reference implementation of the protocol.
extension CheckpointDirectory: CheckpointStore {
    /// The directory's path.
    public var location: String { path }

    /// Creates the directory if needed, then writes and removes a small probe file.
    /// - Throws: ``CheckpointStoreError`` (``CheckpointStoreError/Code/refused`` when the
    ///   directory cannot be created or written).
    public func checkAccess() async throws {
        let probe = path + "/.spottrain-store-check-\(getpid())"
        do {
            try fileSystem.createDirectory(atPath: path)
            try writer.write(bytes: Array("spottrain store check\n".utf8), to: probe)
            try fileSystem.removeFile(atPath: probe)
        } catch {
            throw CheckpointStoreError(.refused, "cannot write to the checkpoint directory: \(error)",
                                       location: path, underlying: error)
        }
    }

    /// The checkpoint files (see ``list()``), as store records.
    /// - Throws: ``CheckpointStoreError`` when the directory cannot be read.
    public func list() async throws -> [StoredCheckpoint] {
        do {
            return try (list() as [CheckpointFile]).map {
                StoredCheckpoint(name: $0.name, globalStep: $0.globalStep, size: nil, location: $0.path)
            }
        } catch {
            throw CheckpointStoreError(.unavailable, "cannot list the checkpoint directory: \(error)",
                                       location: path, underlying: error)
        }
    }

    /// Writes `bytes` as `name`, atomically and durably.
    /// - Throws: ``CheckpointStoreError`` (``CheckpointStoreError/Code/refused`` for a name
    ///   that is not a checkpoint name).
    @discardableResult
    public func put(_ name: String, bytes: [UInt8]) async throws -> StoredCheckpoint {
        let step = try Self.checkedStep(name, location: path)
        do {
            try fileSystem.createDirectory(atPath: path)
            try writer.write(bytes: bytes, to: path + "/" + name)
        } catch {
            throw CheckpointStoreError(.unavailable, "cannot write \(name): \(error)", location: location(of: name),
                                       underlying: error)
        }
        return StoredCheckpoint(name: name, globalStep: step, size: bytes.count, location: location(of: name))
    }

    /// Reads the file `name` (refusing special files and sizes its frame does not declare;
    /// see ``CheckpointFileSystem/readFile(atPath:)``).
    /// - Throws: ``CheckpointStoreError``: ``CheckpointStoreError/Code/notFound`` when it is
    ///   missing, ``CheckpointStoreError/Code/corrupt`` when its frame is damaged (truncated,
    ///   not a checkpoint) or it is not a regular file (facts about the object, which a
    ///   reader skips), and
    ///   ``CheckpointStoreError/Code/unavailable`` when the directory cannot be read.
    public func get(_ name: String, maxBytes: Int) async throws -> [UInt8] {
        _ = try Self.checkedStep(name, location: path)
        let file = location(of: name)
        let bytes: [UInt8]
        do {
            bytes = try fileSystem.readFile(atPath: file)
        } catch let error as CheckpointError where error.systemErrorNumber == ENOENT {
            throw CheckpointStoreError(.notFound, "no checkpoint \(name)", location: file, underlying: error)
        } catch let error as CheckpointError where error.code != .io || error.systemErrorNumber == nil {
            // A damaged frame, or no regular file under the name (a directory, a FIFO): what a
            // retry cannot change. Failed system calls (EIO, EACCES) carry their errno.
            throw CheckpointStoreError(.corrupt, "\(name) is not an intact checkpoint file: \(error)", location: file,
                                       underlying: error)
        } catch {
            throw CheckpointStoreError(.unavailable, "cannot read \(name): \(error)", location: file, underlying: error)
        }
        guard bytes.count <= maxBytes else {
            throw CheckpointStoreError(.tooLarge, "\(bytes.count) bytes, more than the \(maxBytes) accepted", location: file)
        }
        return bytes
    }

    /// Removes files; missing ones are no error.
    /// - Throws: ``CheckpointStoreError``.
    public func delete(_ names: [String]) async throws {
        for name in names {
            _ = try Self.checkedStep(name, location: path)
            do {
                try fileSystem.removeFile(atPath: location(of: name))
            } catch let error as CheckpointError where error.systemErrorNumber == ENOENT {
                continue
            } catch {
                throw CheckpointStoreError(.unavailable, "cannot delete \(name): \(error)", location: location(of: name),
                                           underlying: error)
            }
        }
    }

    /// Renames files into `path/folder/` (created if needed), then syncs both directories.
    /// Every name and the folder are checked before anything is created or moved.
    /// - Throws: ``CheckpointStoreError`` (``CheckpointStoreError/Code/refused`` for an
    ///   invalid name or folder).
    public func setAside(_ names: [String], into folder: String) async throws {
        try Self.checkFolder(folder, location: path)
        for name in names { _ = try Self.checkedStep(name, location: path) }
        let target = path + "/" + folder
        do {
            try fileSystem.createDirectory(atPath: target)
            for name in names {
                try fileSystem.rename(location(of: name), to: target + "/" + name)
            }
            try fileSystem.synchronizeDirectory(atPath: target)
            try fileSystem.synchronizeDirectory(atPath: path)
        } catch let error as CheckpointStoreError {
            throw error
        } catch {
            throw CheckpointStoreError(.unavailable, "cannot move checkpoints to \(target): \(error)", location: path,
                                       underlying: error)
        }
    }

    /// `DIRECTORY/NAME`.
    public func location(of name: String) -> String { path + "/" + name }

    /// The step a checkpoint name records.
    /// - Throws: ``CheckpointStoreError/Code/refused`` for any other name (no path
    ///   separators, no `..`: a name never leaves the store).
    static func checkedStep(_ name: String, location: String) throws -> Int {
        guard let step = globalStep(fromFileName: name) else {
            throw CheckpointStoreError(.refused, "'\(name)' is not a checkpoint name (ckpt-<12 digits>.spt)",
                                       location: location)
        }
        return step
    }

    /// Checks that a set-aside folder is one safe path component.
    static func checkFolder(_ folder: String, location: String) throws {
        let allowed = folder.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2D || byte == 0x5F || byte == 0x2E
        }
        guard !folder.isEmpty, folder.utf8.count <= 128, allowed, folder != ".", folder != ".." else {
            throw CheckpointStoreError(.refused, "'\(folder)' is not a folder name (letters, digits, -, _, .)",
                                       location: location)
        }
    }
}

extension CheckpointStoreError {
    /// Checks that `name` is a checkpoint name, for store implementations.
    /// - Parameters:
    ///   - name: The name to check.
    ///   - location: The store, for the message.
    /// - Returns: The global step the name records.
    /// - Throws: ``CheckpointStoreError/Code/refused``.
    public static func checkName(_ name: String, in location: String) throws -> Int {
        try CheckpointDirectory.checkedStep(name, location: location)
    }

    /// Checks that `folder` is a valid set-aside folder name, for store implementations.
    /// - Throws: ``CheckpointStoreError/Code/refused``.
    public static func checkFolder(_ folder: String, in location: String) throws {
        try CheckpointDirectory.checkFolder(folder, location: location)
    }
}
