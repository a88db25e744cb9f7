/// A problem reading an IDX file: what went wrong and in which file.
///
/// Every error names the file's path; ``description`` reads
/// `"<path>: <message>"`, suitable as a single line on stderr.
public struct IDXError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The kind of problem, for programs that react to it.
    public enum Code: String, Sendable, Equatable, CaseIterable {
        /// The file does not exist.
        case missingFile
        /// The file exists but cannot be opened or read (permissions, a directory, an I/O error).
        case readFailed
        /// The first two bytes (after gzip decompression) are not `00 00`: not an IDX file.
        case badMagic
        /// The third header byte is not one of the data type codes the format defines.
        case unknownDataType
        /// The header declares 0 dimensions (SpotTrain requires 1...255).
        case badRank
        /// The file ends inside the header.
        case truncatedHeader
        /// The file holds fewer data bytes than the header's shape requires.
        case truncatedData
        /// Bytes follow the data that the header describes (or follow the gzip stream).
        case trailingData
        /// The product of the dimensions (times the element size) does not fit in `Int`.
        case sizeOverflow
        /// The data is larger than the reader's ``IDXReader/maximumDataBytes``.
        case tooLarge
        /// The gzip stream is corrupt (bad deflate data, CRC or length mismatch, truncated trailer).
        case corruptCompression
    }

    /// The kind of problem.
    public let code: Code
    /// The path of the file, as given to the reader.
    public let path: String
    /// A sentence describing the problem, with the numbers involved.
    public let message: String
    /// The lower-level error, such as the ``CompressionError`` from zlib, if there was one.
    public let underlying: (any Error & Sendable)?

    /// Creates an error.
    /// - Parameters:
    ///   - code: The kind of problem.
    ///   - path: The file's path.
    ///   - message: What went wrong, with the numbers involved.
    ///   - underlying: The lower-level error, if any.
    public init(_ code: Code, path: String, message: String, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.path = path
        self.message = message
        self.underlying = underlying
    }

    /// `"<path>: <message>"`.
    public var description: String { "\(path): \(message)" }

    /// Two errors are equal when code, path and message are equal (the underlying error is
    /// not compared).
    public static func == (lhs: IDXError, rhs: IDXError) -> Bool {
        lhs.code == rhs.code && lhs.path == rhs.path && lhs.message == rhs.message
    }
}
