/// A failed MPI call: which call, MPI's own error code and message, and what it was doing.
public struct MPIError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of failure.
    public enum Code: String, Sendable, Equatable {
        /// `MPI_Init_thread` failed, or MPI was already finalized.
        case initializationFailed = "initialization_failed"
        /// MPI does not offer the thread support SpotTrain needs (`MPI_THREAD_FUNNELED`).
        case threadSupport = "thread_support"
        /// A collective or point-to-point call failed (a peer died, the network broke).
        case communicationFailed = "communication_failed"
        /// The processes disagree about something that must be the same on all of them
        /// (buffer sizes, parameter counts).
        case mismatch
    }

    /// What kind of failure.
    public var code: Code
    /// The MPI function that failed (`MPI_Allgather`, …), or the operation for a mismatch.
    public var function: String
    /// The MPI error code (`MPI_SUCCESS`, 0, for failures detected by SpotTrain itself).
    public var mpiCode: Int32
    /// What was being done, and MPI's error string.
    public var message: String

    /// Creates an error.
    /// - Parameters:
    ///   - code: The kind.
    ///   - function: The failing MPI function or operation.
    ///   - mpiCode: MPI's return code (0 if MPI did not fail).
    ///   - message: What was being done, with MPI's message.
    public init(_ code: Code, function: String, mpiCode: Int32 = 0, message: String) {
        self.code = code
        self.function = function
        self.mpiCode = mpiCode
        self.message = message
    }

    public var description: String {
        "MPI error (\(code.rawValue)) in \(function)" + (mpiCode != 0 ? " [MPI code \(mpiCode)]" : "") + ": \(message)"
    }
}
