#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The file operations checkpoints use, as a protocol so that tests can inject failures at
/// any step (a write, an fsync, a rename) and check that nothing is lost.
///
/// Every method throws ``CheckpointError`` (code ``CheckpointError/Code/io`` for system-call
/// failures). ``POSIXCheckpointFileSystem`` is the real implementation.
public protocol CheckpointFileSystem: Sendable {
    /// Creates a new file for writing; fails if it exists.
    /// - Parameter path: The file to create (mode 0644).
    /// - Returns: An open file descriptor.
    /// - Throws: ``CheckpointError``.
    func createFile(atPath path: String) throws -> Int32
    /// Writes all of `bytes` to `descriptor` (retrying short writes).
    /// - Parameters:
    ///   - descriptor: A descriptor from ``createFile(atPath:)``.
    ///   - bytes: The data.
    /// - Throws: ``CheckpointError``.
    func write(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) throws
    /// Flushes a file's data and metadata to stable storage (`fsync`).
    /// - Parameter descriptor: An open descriptor.
    /// - Throws: ``CheckpointError``.
    func synchronize(_ descriptor: Int32) throws
    /// Closes a descriptor.
    /// - Parameter descriptor: An open descriptor.
    /// - Throws: ``CheckpointError``.
    func close(_ descriptor: Int32) throws
    /// Atomically renames a file, replacing any file at `destination`.
    /// - Parameters:
    ///   - source: The existing file.
    ///   - destination: The new name, in the same directory.
    /// - Throws: ``CheckpointError``.
    func rename(_ source: String, to destination: String) throws
    /// Flushes a directory's entries to stable storage (open it and `fsync`).
    /// - Parameter path: The directory.
    /// - Throws: ``CheckpointError``.
    func synchronizeDirectory(atPath path: String) throws
    /// Deletes a file.
    /// - Parameter path: The file.
    /// - Throws: ``CheckpointError``.
    func removeFile(atPath path: String) throws
    /// Lists the names (not paths) of a directory's entries, excluding `.` and `..`.
    /// - Parameter path: The directory.
    /// - Returns: Entry names in no particular order.
    /// - Throws: ``CheckpointError``.
    func contentsOfDirectory(atPath path: String) throws -> [String]
    /// Reads a whole file; the buffer is sized from the file's actual size.
    /// - Parameter path: The file.
    /// - Returns: Its bytes.
    /// - Throws: ``CheckpointError``.
    func readFile(atPath path: String) throws -> [UInt8]
    /// Creates a directory and any missing parents (mode 0755); succeeds if it exists.
    /// - Parameter path: The directory.
    /// - Throws: ``CheckpointError``.
    func createDirectory(atPath path: String) throws
}

/// ``CheckpointFileSystem`` on POSIX system calls.
public struct POSIXCheckpointFileSystem: CheckpointFileSystem {
    /// Creates the file system.
    public init() {}

    private static func failure(_ operation: String, _ path: String?) -> CheckpointError {
        let number = errno
        let reason = String(cString: strerror(number))
        return CheckpointError(.io, "\(operation) failed: \(reason)", path: path, systemErrorNumber: number)
    }

    /// Creates a new file with `O_CREAT | O_EXCL`, mode 0644.
    public func createFile(atPath path: String) throws -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Self.failure("creating the file", path) }
        return fd
    }

    /// Writes every byte, retrying on `EINTR` and short writes.
    public func write(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) throws {
        guard var p = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            #if canImport(Darwin)
            let n = Darwin.write(descriptor, p, min(remaining, 1 << 30))
            #elseif canImport(Glibc)
            let n = Glibc.write(descriptor, p, min(remaining, 1 << 30))
            #else
            let n = Musl.write(descriptor, p, min(remaining, 1 << 30))
            #endif
            if n < 0 {
                if errno == EINTR { continue }
                throw Self.failure("writing", nil)
            }
            if n == 0 { throw CheckpointError(.io, "writing made no progress") }
            p += n
            remaining -= n
        }
    }

    /// Calls `fsync`.
    public func synchronize(_ descriptor: Int32) throws {
        while fsync(descriptor) != 0 {
            if errno != EINTR { throw Self.failure("fsync", nil) }
        }
    }

    /// Calls `close`.
    public func close(_ descriptor: Int32) throws {
        #if canImport(Darwin)
        let rc = Darwin.close(descriptor)
        #elseif canImport(Glibc)
        let rc = Glibc.close(descriptor)
        #else
        let rc = Musl.close(descriptor)
        #endif
        // After EINTR the descriptor is released on Linux; do not retry.
        if rc != 0 && errno != EINTR { throw Self.failure("close", nil) }
    }

    /// Calls `rename`.
    public func rename(_ source: String, to destination: String) throws {
        #if canImport(Darwin)
        let rc = Darwin.rename(source, destination)
        #elseif canImport(Glibc)
        let rc = Glibc.rename(source, destination)
        #else
        let rc = Musl.rename(source, destination)
        #endif
        if rc != 0 { throw Self.failure("renaming to \(destination)", source) }
    }

    /// Opens the directory read-only and calls `fsync` on it.
    public func synchronizeDirectory(atPath path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw Self.failure("opening the directory", path) }
        defer { try? close(fd) }
        while fsync(fd) != 0 {
            if errno != EINTR { throw Self.failure("fsync of the directory", path) }
        }
    }

    /// Calls `unlink`.
    public func removeFile(atPath path: String) throws {
        if unlink(path) != 0 { throw Self.failure("removing the file", path) }
    }

    /// Reads the directory with `opendir`/`readdir`.
    public func contentsOfDirectory(atPath path: String) throws -> [String] {
        guard let dir = opendir(path) else { throw Self.failure("opening the directory", path) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Reads the whole file; the buffer is sized by `fstat`, and a file that shrinks or
    /// grows while it is read is reported.
    public func readFile(atPath path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Self.failure("opening the file", path) }
        defer { try? close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw Self.failure("fstat", path) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw CheckpointError(.io, "not a regular file", path: path)
        }
        let size = Int(info.st_size)
        var bytes = [UInt8](repeating: 0, count: size)
        var offset = 0
        try bytes.withUnsafeMutableBytes { buffer in
            while offset < size {
                let n = read(fd, buffer.baseAddress! + offset, min(size - offset, 1 << 30))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw Self.failure("reading", path)
                }
                if n == 0 { break }
                offset += n
            }
        }
        if offset < size { bytes.removeSubrange(offset...) }
        return bytes
    }

    /// Creates the directory and its missing parents with `mkdir`.
    public func createDirectory(atPath path: String) throws {
        var info = stat()
        if stat(path, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFDIR else {
                throw CheckpointError(.io, "exists and is not a directory", path: path)
            }
            return
        }
        let (parent, _) = CheckpointWriter.split(path)
        if parent != path && parent != "." && parent != "/" { try createDirectory(atPath: parent) }
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw Self.failure("creating the directory", path) }
    }
}
