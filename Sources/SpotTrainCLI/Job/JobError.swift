/// A failure of `spottrain job …` itself (not of the training run it drives).
struct JobError: Error, CustomStringConvertible {
    /// What kind of failure, which decides the exit status.
    enum Code: Sendable {
        /// A train argument the job sets itself, or that `spottrain train` does not accept:
        /// exit 64.
        case refusedArgument
        /// `job.json` or `status.json` is missing, unreadable or invalid: exit 78.
        case invalidSpec
        /// The store refused a request (access denied, no such bucket): exit 78.
        case refused
        /// The store, IMDS or the Auto Scaling group could not be reached: exit 1.
        case unavailable
    }

    /// The kind.
    let code: Code
    /// What failed, naming the flag, object or service.
    let message: String
    /// The underlying error, if any.
    let underlying: (any Error)?

    /// Creates an error.
    /// - Parameters:
    ///   - code: The kind.
    ///   - message: What failed.
    ///   - underlying: The cause.
    init(_ code: Code, _ message: String, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    var description: String { message + (underlying.map { " (\($0))" } ?? "") }

    /// 64 for a refused argument, 78 for an invalid spec or a refusal, 1 otherwise.
    var exitStatus: Int32 {
        switch code {
        case .refusedArgument: return ExitStatus.usage
        case .invalidSpec, .refused: return ExitStatus.configuration
        case .unavailable: return ExitStatus.failure
        }
    }
}
