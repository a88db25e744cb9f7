/// Why training cannot start or a state cannot be kept: an empty training set, or a state
/// holding non-finite numbers.
///
/// ``description`` reads `"TrainingError.<code>: <message>"`.
public struct TrainingError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The kind of problem.
    public enum Code: String, Sendable, Equatable, CaseIterable {
        /// The training set has no examples: there is nothing to train on.
        case emptyTrainingSet
        /// A value that must be finite (a loss, a parameter, an optimizer slot) is NaN or
        /// infinite: training diverged.
        case nonFinite
    }

    /// The kind of problem.
    public let code: Code
    /// A sentence naming the value, tensor or data set concerned.
    public let message: String

    /// Creates an error.
    /// - Parameters:
    ///   - code: The kind of problem.
    ///   - message: What went wrong, naming what is concerned.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `"TrainingError.<code>: <message>"`.
    public var description: String { "TrainingError.\(code.rawValue): \(message)" }
}
