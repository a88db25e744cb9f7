/// A problem with an MNIST directory beyond the individual files' format (which
/// ``IDXError`` reports): missing files, wrong shapes or types, mismatched counts, bad labels.
///
/// ``description`` reads `"<path>: <message>"`, where `path` is the file (or, for missing
/// files, the directory) concerned.
public struct MNISTError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The kind of problem.
    public enum Code: String, Sendable, Equatable, CaseIterable {
        /// The directory does not exist or is not a directory.
        case missingDirectory
        /// None of the accepted names of a required file exists.
        case missingFile
        /// A file's element type is not uint8.
        case unexpectedDataType
        /// A file's rank or dimensions are not those of MNIST (`[N, 28, 28]` images, `[N]` labels).
        case unexpectedShape
        /// The images and labels files of a split hold different numbers of examples.
        case countMismatch
        /// A label is not in `0...9`.
        case labelOutOfRange
    }

    /// The kind of problem.
    public let code: Code
    /// The file concerned, or the directory for ``Code/missingDirectory`` and ``Code/missingFile``.
    public let path: String
    /// A sentence describing the problem, with the numbers and names involved.
    public let message: String

    /// Creates an error.
    /// - Parameters:
    ///   - code: The kind of problem.
    ///   - path: The file or directory concerned.
    ///   - message: What went wrong.
    public init(_ code: Code, path: String, message: String) {
        self.code = code
        self.path = path
        self.message = message
    }

    /// `"<path>: <message>"`.
    public var description: String { "\(path): \(message)" }
}
