/// An error reading, writing, verifying or restoring a checkpoint.
///
/// Every problem with a checkpoint file (corruption, truncation, an unsupported version, a
/// failed write) is reported as a `CheckpointError`; the reader never crashes on bad input.
/// ``code`` classifies the problem for programs, ``message`` explains it for people, and
/// ``path`` names the file when there is one.
public struct CheckpointError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The class of problem.
    public enum Code: String, Sendable, CaseIterable {
        /// An operating-system call failed (open, read, write, fsync, rename, unlink, …);
        /// ``CheckpointError/systemErrorNumber`` holds `errno` when known.
        case io
        /// The file does not start with the checkpoint magic bytes.
        case badMagic
        /// The file's major format version is newer than (or otherwise not) one this reader
        /// understands.
        case unsupportedVersion
        /// The file is shorter than its structure requires, or its completion footer is
        /// missing: typically a save that was interrupted.
        case truncated
        /// A CRC-32 (whole file, metadata or tensor) does not match the bytes.
        case checksumMismatch
        /// A length, offset, count, rank or dimension is inconsistent or out of range.
        case malformed
        /// A compressed payload is corrupt or decompresses to a size other than declared.
        case decompressionFailed
        /// A data-type, filter or compression code this reader does not implement.
        case unsupportedEncoding
        /// The metadata section is not valid JSON of the expected form.
        case invalidMetadata
        /// The checkpoint's model signature does not match the model being restored.
        case signatureMismatch
        /// The file's name is not the name of the global step its metadata records
        /// (`ckpt-<global step, 12 digits>.spt`): the file is valid content under a wrong
        /// name, and is not used.
        case nameMismatch
        /// Another process holds the checkpoint directory's writer lock.
        case locked
    }

    /// The class of problem.
    public let code: Code
    /// A description naming the offending field, value or parameter.
    public let message: String
    /// The file concerned, when there is one.
    public let path: String?
    /// The operating system's `errno`, for ``Code/io`` errors that came from a system call.
    public let systemErrorNumber: Int32?

    /// Creates an error.
    /// - Parameters:
    ///   - code: The class of problem.
    ///   - message: What went wrong, naming the field or value.
    ///   - path: The file concerned, if any.
    ///   - systemErrorNumber: `errno` for failed system calls.
    public init(_ code: Code, _ message: String, path: String? = nil, systemErrorNumber: Int32? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.systemErrorNumber = systemErrorNumber
    }

    /// The same error attributed to `path` (if it has no path yet).
    /// - Parameter path: The file the error concerns.
    /// - Returns: A copy whose ``path`` is set.
    public func at(_ path: String?) -> CheckpointError {
        guard self.path == nil, let path else { return self }
        return CheckpointError(code, message, path: path, systemErrorNumber: systemErrorNumber)
    }

    /// `"<path>: <message> [code]"`.
    public var description: String {
        var text = path.map { "\($0): \(message)" } ?? message
        if let errno = systemErrorNumber { text += " (errno \(errno))" }
        return text + " [\(code.rawValue)]"
    }
}
