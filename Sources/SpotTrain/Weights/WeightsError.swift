/// An error reading, writing or loading a weights file (safetensors).
///
/// Every problem with a weights file (truncation, a header that is not the expected JSON, a
/// data type other than `F32`, offsets out of range, a tensor the model does not have or
/// has with another shape) is reported as a `WeightsError`; the decoder never traps on bad
/// input. ``code`` classifies the problem, ``message`` explains it, ``path`` names the file
/// and ``tensor`` the tensor concerned when there is one.
public struct WeightsError: Error, CustomStringConvertible, Sendable {
    /// The class of problem.
    public enum Code: String, Sendable, CaseIterable {
        /// The file could not be opened, read or written (``WeightsError/underlying`` holds
        /// the ``CheckpointError`` with `errno`).
        case io
        /// The file is shorter than its 8-byte header length or its header says.
        case truncated
        /// The header length exceeds ``SafeTensors/maximumHeaderBytes``.
        case headerTooLarge
        /// The header is not a JSON object of the safetensors form (syntax, unknown or
        /// missing fields, a name used twice, a shape that overflows, …).
        case malformedHeader
        /// A tensor's data type is not `F32` (the only one SpotTrain reads).
        case unsupportedDataType
        /// A tensor's `data_offsets` are out of range, do not match its shape, overlap
        /// another tensor's, or leave bytes of the data section unused.
        case badOffsets
        /// The model has a parameter the file has no tensor for.
        case missingTensor
        /// The file has a tensor the model has no parameter for.
        case unexpectedTensor
        /// A tensor's shape is not the shape of the model's parameter of that name.
        case shapeMismatch
    }

    /// The class of problem.
    public let code: Code
    /// What went wrong, naming the field or value.
    public let message: String
    /// The file concerned, when there is one.
    public let path: String?
    /// The tensor concerned, when there is one.
    public let tensor: String?
    /// The error that caused this one (a ``CheckpointError`` from a failed system call).
    public let underlying: (any Error & Sendable)?

    /// Creates an error.
    /// - Parameters:
    ///   - code: The class of problem.
    ///   - message: What went wrong.
    ///   - path: The file concerned, if any.
    ///   - tensor: The tensor concerned, if any.
    ///   - underlying: The cause, if any.
    public init(_ code: Code, _ message: String, path: String? = nil, tensor: String? = nil,
                underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.tensor = tensor
        self.underlying = underlying
    }

    /// The same error attributed to `path` (if it has no path yet).
    /// - Parameter path: The file the error concerns.
    /// - Returns: A copy whose ``path`` is set.
    public func at(_ path: String?) -> WeightsError {
        guard self.path == nil, let path else { return self }
        return WeightsError(code, message, path: path, tensor: tensor, underlying: underlying)
    }

    /// `"<path>: tensor '<name>': <message> [code]"`.
    public var description: String {
        var text = tensor.map { "tensor '\($0)': \(message)" } ?? message
        if let path { text = "\(path): " + text }
        return text + " [\(code.rawValue)]"
    }
}
