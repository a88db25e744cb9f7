#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A regular file opened for reading with POSIX calls, closed on deinit.
///
/// Internal to the data loaders: it reports failures as ``IDXError`` naming the path.
final class ReadOnlyFile {
    let path: String
    /// The file's size in bytes when it was opened.
    let size: Int
    private let descriptor: Int32

    /// Opens `path` for reading, never blocking: the path is `stat`ed first (a FIFO,
    /// socket, device or directory is rejected without being opened, so nothing waits for
    /// a writer), then opened with `O_NONBLOCK` and checked again with `fstat`.
    /// - Throws: ``IDXError`` `.missingFile` if it does not exist (or is a dangling symbolic
    ///   link, named as such), `.readFailed` if it cannot be opened or is not a regular file.
    init(path: String) throws {
        self.path = path
        var info = stat()
        guard stat(path, &info) == 0 else {
            let code = errno
            if code == ENOENT, lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFLNK {
                throw IDXError(.missingFile, path: path, message: "dangling symbolic link (its target does not exist)")
            }
            if code == ENOENT || code == ENOTDIR {
                throw IDXError(.missingFile, path: path, message: "no such file")
            }
            throw IDXError(.readFailed, path: path, message: "cannot open: \(ReadOnlyFile.describe(errno: code))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw IDXError(.readFailed, path: path, message: "\(POSIXCheckpointFileSystem.fileKind(info.st_mode)), not a regular file")
        }
        var fd: Int32
        repeat {
            fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
        } while fd < 0 && errno == EINTR
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT || code == ENOTDIR {
                throw IDXError(.missingFile, path: path, message: "no such file")
            }
            throw IDXError(.readFailed, path: path, message: "cannot open: \(ReadOnlyFile.describe(errno: code))")
        }
        guard fstat(fd, &info) == 0 else {
            let code = errno
            close(fd)
            throw IDXError(.readFailed, path: path, message: "cannot stat: \(ReadOnlyFile.describe(errno: code))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw IDXError(.readFailed, path: path, message: "\(POSIXCheckpointFileSystem.fileKind(info.st_mode)), not a regular file")
        }
        self.descriptor = fd
        self.size = Int(info.st_size)
    }

    deinit { close(descriptor) }

    /// Reads up to `buffer.count` bytes starting at byte `offset`, retrying short reads
    /// until the buffer is full or the file ends.
    /// - Returns: The number of bytes read; less than `buffer.count` only at end of file.
    /// - Throws: ``IDXError`` `.readFailed` on an I/O error.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        var total = 0
        while total < buffer.count {
            let n = pread(descriptor, base + total, buffer.count - total, off_t(offset + total))
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                throw IDXError(.readFailed, path: path,
                               message: "read error at byte \(offset + total): \(ReadOnlyFile.describe(errno: code))")
            }
            if n == 0 { break }
            total += n
        }
        return total
    }

    /// Whether a regular file (or anything) exists at `path`.
    static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    /// Whether `path` names a directory.
    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    static func describe(errno code: Int32) -> String {
        guard let text = strerror(code) else { return "errno \(code)" }
        return "\(String(cString: text)) (errno \(code))"
    }
}
