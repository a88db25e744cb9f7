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
    /// Reads a whole checkpoint file. It must not block on, or read from, anything but a
    /// regular file, and must not allocate the file's size before checking that the file's
    /// own frame (``CheckpointFormat/checkFrame(size:path:read:)``) agrees with that size.
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

    /// Reads the whole file after checking, without blocking and before allocating, that
    /// it is a regular file (not a FIFO, socket, device or directory) and that its frame
    /// (magic, version, completion marker and the footer's recorded data length) matches
    /// its size; the buffer is then sized by `fstat`, and a file that shrinks or grows while
    /// it is read is reported.
    public func readFile(atPath path: String) throws -> [UInt8] {
        let fd = try POSIXCheckpointFileSystem.openRegularFile(atPath: path)
        defer { try? close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw Self.failure("fstat", path) }
        let size = Int(info.st_size)
        try CheckpointFormat.checkFrame(size: size, path: path) { offset, count in
            var chunk = [UInt8](repeating: 0, count: count)
            let n = try chunk.withUnsafeMutableBytes { try Self.readFully(fd, into: $0, at: offset, path: path) }
            return Array(chunk[0..<n])
        }
        var bytes = [UInt8](repeating: 0, count: size)
        let got = try bytes.withUnsafeMutableBytes { try Self.readFully(fd, into: $0, at: 0, path: path) }
        if got < size { bytes.removeSubrange(got...) }
        return bytes
    }

    /// Reads until `buffer` is full or the file ends, retrying `EINTR` and short reads.
    private static func readFully(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at start: Int,
                                  path: String) throws -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        var offset = 0
        while offset < buffer.count {
            let n = pread(fd, base + offset, min(buffer.count - offset, 1 << 30), off_t(start + offset))
            if n < 0 {
                if errno == EINTR { continue }
                throw Self.failure("reading", path)
            }
            if n == 0 { break }
            offset += n
        }
        return offset
    }

    /// Opens `path` read-only as a regular file, never blocking: the path is `stat`ed first
    /// (a FIFO, socket, device or directory is rejected without being opened), then opened
    /// with `O_NONBLOCK` and checked again with `fstat` (the name may have been replaced in
    /// between).
    /// - Parameter path: The file.
    /// - Returns: A descriptor the caller closes.
    /// - Throws: ``CheckpointError`` (``CheckpointError/Code/io``) naming the path and, for
    ///   a file of the wrong kind, what it is.
    public static func openRegularFile(atPath path: String) throws -> Int32 {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let number = errno
            if number == ENOENT, lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFLNK {
                throw CheckpointError(.io, "is a dangling symbolic link", path: path, systemErrorNumber: number)
            }
            throw failure("opening the file", path)
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw CheckpointError(.io, "is \(fileKind(info.st_mode)), not a regular file", path: path)
        }
        var fd: Int32
        repeat {
            fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
        } while fd < 0 && errno == EINTR
        guard fd >= 0 else { throw failure("opening the file", path) }
        guard fstat(fd, &info) == 0 else {
            let error = failure("fstat", path)
            _ = POSIXCheckpointFileSystem.closeDescriptor(fd)
            throw error
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            _ = POSIXCheckpointFileSystem.closeDescriptor(fd)
            throw CheckpointError(.io, "is \(fileKind(info.st_mode)), not a regular file", path: path)
        }
        return fd
    }

    /// "a directory", "a FIFO", … for error messages.
    /// - Parameter mode: `st_mode`.
    /// - Returns: The kind, with an article.
    public static func fileKind(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFREG: return "a regular file"
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a FIFO"
        case S_IFSOCK: return "a socket"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFLNK: return "a symbolic link"
        default: return "a special file"
        }
    }

    private static func closeDescriptor(_ fd: Int32) -> Int32 {
        #if canImport(Darwin)
        return Darwin.close(fd)
        #elseif canImport(Glibc)
        return Glibc.close(fd)
        #else
        return Musl.close(fd)
        #endif
    }

    /// Creates the directory and its missing parents with `mkdir`.
    public func createDirectory(atPath path: String) throws {
        var info = stat()
        if stat(path, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFDIR else {
                throw CheckpointError(.io, "is \(Self.fileKind(info.st_mode)), not a directory", path: path)
            }
            return
        }
        if lstat(path, &info) == 0 {
            // Only a dangling symbolic link (or a race) gets here: mkdir would fail with
            // EEXIST and the caller would go on as if the directory existed.
            throw CheckpointError(.io, "is \(Self.fileKind(info.st_mode)) whose target does not exist, not a directory",
                                  path: path)
        }
        let (parent, _) = CheckpointWriter.split(path)
        if parent != path && parent != "." && parent != "/" { try createDirectory(atPath: parent) }
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw Self.failure("creating the directory", path) }
    }
}
