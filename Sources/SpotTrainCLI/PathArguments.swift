import ArgumentParser
import Foundation
import SpotTrain
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Checks of the paths given on the command line, made before a command reads or writes
/// anything, so that a path of the wrong kind is a clear usage error (exit 64) instead of a
/// hang (a FIFO or device opened for reading or writing blocks) or a failure after the work
/// is done.
///
/// A path of the wrong kind (a FIFO, socket, device or directory where a file is expected,
/// a file where a directory is expected, a dangling symbolic link, an output file whose
/// directory does not exist or is not writable) exits 64 with `spottrain: error: <flag>
/// <path>: <reason>`. A path that does not exist yet where one is read (`--data`, a
/// checkpoint file) is left to the command, which exits 1: a volume may still be mounting,
/// and a restart may succeed. The checks create nothing.
enum PathArguments {
    /// What a path must be.
    enum Kind {
        /// An existing regular file (or symbolic link to one) to read.
        case inputFile
        /// A directory to read; it may be missing (the command reports that).
        case inputDirectory
        /// A directory to create or use: missing, or a directory.
        case directory
        /// A file to write: missing (its directory must exist and be writable) or a regular
        /// file.
        case outputFile
    }

    /// Checks `path` and exits 64 with a one-line error if it cannot be used as `kind`.
    /// - Parameters:
    ///   - path: The path given.
    ///   - kind: What it must be.
    ///   - name: The flag or argument, for the message (`--summary`, `FILE`).
    /// - Throws: `ExitCode(64)` after printing the error.
    static func require(_ path: String, is kind: Kind, for name: String) throws {
        if let reason = problem(path, kind) {
            printError("\(name) \(path): \(reason)")
            throw ExitCode(ExitStatus.usage)
        }
    }

    /// Why `path` cannot be used as `kind`, or nil if it can (so far as can be known now).
    /// - Parameters:
    ///   - path: The path.
    ///   - kind: What it must be.
    /// - Returns: The reason, or nil.
    static func problem(_ path: String, _ kind: Kind) -> String? {
        guard !path.isEmpty else { return "an empty path" }
        var info = stat()
        if stat(path, &info) != 0 {
            let number = errno
            var link = stat()
            if lstat(path, &link) == 0, (link.st_mode & S_IFMT) == S_IFLNK {
                return "is a dangling symbolic link (its target does not exist)"
            }
            guard number == ENOENT else {
                return "cannot be examined: \(String(cString: strerror(number)))"
            }
            switch kind {
            case .inputFile, .inputDirectory, .directory:
                return nil
            case .outputFile:
                return parentProblem(path)
            }
        }
        let type = info.st_mode & S_IFMT
        switch kind {
        case .inputFile, .outputFile:
            guard type == S_IFREG else { return "is \(POSIXCheckpointFileSystem.fileKind(type)), not a regular file" }
            if kind == .outputFile, access(path, W_OK) != 0 {
                return "is not writable: \(String(cString: strerror(errno)))"
            }
            return nil
        case .inputDirectory, .directory:
            return type == S_IFDIR ? nil : "is \(POSIXCheckpointFileSystem.fileKind(type)), not a directory"
        }
    }

    private static func parentProblem(_ path: String) -> String? {
        let parent = (path as NSString).deletingLastPathComponent
        let directory = parent.isEmpty ? "." : parent
        var info = stat()
        guard stat(directory, &info) == 0 else {
            return "its directory \(directory) does not exist"
        }
        guard (info.st_mode & S_IFMT) == S_IFDIR else {
            return "its directory \(directory) is \(POSIXCheckpointFileSystem.fileKind(info.st_mode)), not a directory"
        }
        guard access(directory, W_OK | X_OK) == 0 else {
            return "its directory \(directory) is not writable: \(String(cString: strerror(errno)))"
        }
        return nil
    }
}
