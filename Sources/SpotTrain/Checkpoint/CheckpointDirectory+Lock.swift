#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The exclusive writer lock of a ``CheckpointDirectory``: one process saves, prunes and
/// cleans temporary files in a directory at a time.
///
/// It is an `flock(2)` on the file `.spottrain.lock` in the directory, which holds the
/// holder's process id as text. The kernel releases the lock when the process exits in any
/// way (`kill -9` included), so a lock is never stale; the file itself stays (removing it
/// would let two processes lock two different files). Readers (`verify`, `inspect`,
/// ``CheckpointDirectory/latestValid()``) need no lock. The lock is released by
/// ``release()`` or when the value is deinitialized.
public final class CheckpointDirectoryLock: @unchecked Sendable {
    /// The lock file's name inside the directory.
    public static let fileName = ".spottrain.lock"
    /// The lock file.
    public let path: String
    private var descriptor: Int32

    /// Takes the lock of `directory`, creating the directory (and its parents) and the lock
    /// file if needed. Never waits: if another process holds the lock this throws at once
    /// and changes nothing.
    /// - Parameter directory: The checkpoint directory.
    /// - Throws: ``CheckpointError`` with code ``CheckpointError/Code/locked`` naming the
    ///   holder's process id when another process holds it, or ``CheckpointError/Code/io``
    ///   when the directory or lock file cannot be created or opened (for example when the
    ///   path, or the lock file, is not of the right kind).
    public init(directory: String) throws {
        try POSIXCheckpointFileSystem().createDirectory(atPath: directory)
        path = directory + "/" + Self.fileName
        var fd: Int32
        repeat {
            fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0o644)
        } while fd < 0 && errno == EINTR
        guard fd >= 0 else {
            let number = errno
            throw CheckpointError(.io, "opening the lock file failed: \(String(cString: strerror(number)))",
                                  path: path, systemErrorNumber: number)
        }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            Self.close(fd)
            throw CheckpointError(.io, "the lock file is \(POSIXCheckpointFileSystem.fileKind(info.st_mode)), not a regular file",
                                  path: path)
        }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let number = errno
            if number == EINTR { continue }
            let holder = Self.holder(fd)
            Self.close(fd)
            if number == EWOULDBLOCK || number == EAGAIN {
                throw CheckpointError(.locked,
                                      "the checkpoint directory \(directory) is in use by another writer, "
                                      + (holder.map { "PID \($0)" } ?? "PID unknown")
                                      + " (it holds \(path)); wait for it to exit or stop it first",
                                      path: directory, systemErrorNumber: number)
            }
            throw CheckpointError(.io, "locking failed: \(String(cString: strerror(number)))", path: path,
                                  systemErrorNumber: number)
        }
        descriptor = fd
        // Record the holder for the message of a second writer (best effort: the lock is
        // the flock, not the text).
        let text = Array("\(getpid())\n".utf8)
        if ftruncate(fd, 0) == 0 {
            _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        }
    }

    deinit { release() }

    /// Releases the lock (idempotent).
    public func release() {
        guard descriptor >= 0 else { return }
        Self.close(descriptor)
        descriptor = -1
    }

    /// Whether this value still holds the lock.
    public var isHeld: Bool { descriptor >= 0 }

    /// The process id written in the lock file, if it reads as one.
    private static func holder(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 16)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        let text = String(decoding: buffer[0..<n], as: UTF8.self).split(separator: "\n").first ?? ""
        guard let pid = Int32(text), pid > 0 else { return nil }
        return pid
    }

    private static func close(_ fd: Int32) {
        #if canImport(Darwin)
        _ = Darwin.close(fd)
        #elseif canImport(Glibc)
        _ = Glibc.close(fd)
        #else
        _ = Musl.close(fd)
        #endif
    }
}

extension CheckpointDirectory {
    /// Takes this directory's exclusive writer lock (see ``CheckpointDirectoryLock``); hold
    /// the returned value for as long as this process saves, prunes or cleans up here. A
    /// custom training loop takes it before its first ``save(_:)``.
    /// - Returns: The held lock.
    /// - Throws: ``CheckpointError`` `.locked` naming the holder's process id if another
    ///   process holds it, `.io` if the directory or lock file cannot be made.
    public func lock() throws -> CheckpointDirectoryLock {
        try CheckpointDirectoryLock(directory: path)
    }
}
