import Foundation

/// Polls an operation until its result or error matches an acceptor: the shape of the AWS
/// SDK waiters.
///
/// After each poll the acceptors are tried in order; the first that matches decides:
/// `success` returns the result, `failure` throws ``WaiterError`` (a failure state such as a
/// volume in `error`), `retry` polls again after ``delay``. A result no acceptor matches is
/// polled again; an error no acceptor matches is thrown as is. The ``timeout`` is measured
/// on the injected ``EC2Clock``: when the next poll would start after it, the waiter throws
/// ``WaiterError`` with kind `timedOut`.
public struct Waiter<Output: Sendable>: Sendable {
    /// What a matching acceptor means.
    public enum State: Sendable {
        /// Done: return the result.
        case success
        /// Not yet: poll again.
        case retry
        /// Will never succeed: throw.
        case failure
    }

    /// One rule: a state and what it matches.
    public struct Acceptor: Sendable {
        /// The state the rule leads to.
        public var state: State
        /// Matches a successful result.
        public var output: (@Sendable (Output) -> Bool)?
        /// Matches an ``EC2Error`` with this code.
        public var errorCode: String?

        /// An acceptor on the operation's result.
        /// - Parameters:
        ///   - state: The state when `matches` returns true.
        ///   - matches: The predicate.
        /// - Returns: The acceptor.
        public static func output(_ state: State, _ matches: @escaping @Sendable (Output) -> Bool) -> Acceptor {
            Acceptor(state: state, output: matches, errorCode: nil)
        }

        /// An acceptor on an ``EC2Error`` code, for example `InvalidVolume.NotFound`.
        /// - Parameters:
        ///   - state: The state when the operation throws an ``EC2Error`` with `code`.
        ///   - code: The AWS error code.
        /// - Returns: The acceptor.
        public static func errorCode(_ state: State, _ code: String) -> Acceptor {
            Acceptor(state: state, output: nil, errorCode: code)
        }
    }

    /// A name for messages, for example `"volume vol-1 in-use"`.
    public var name: String
    /// The rules, tried in order.
    public var acceptors: [Acceptor]
    /// The pause between polls.
    public var delay: Duration
    /// The longest the waiter keeps polling.
    public var timeout: Duration
    /// Describes a result for error messages (for example its state).
    public var describe: @Sendable (Output) -> String

    /// Creates a waiter.
    /// - Parameters:
    ///   - name: A name for messages.
    ///   - acceptors: The rules, tried in order.
    ///   - delay: Pause between polls (> 0).
    ///   - timeout: Longest total wait (≥ 0).
    ///   - describe: Describes a result for messages.
    public init(name: String, acceptors: [Acceptor], delay: Duration, timeout: Duration,
                describe: @escaping @Sendable (Output) -> String = { String(describing: $0) }) {
        precondition(delay > .zero, "Waiter \(name): delay \(delay) must be positive")
        precondition(timeout >= .zero, "Waiter \(name): timeout \(timeout) must not be negative")
        self.name = name
        self.acceptors = acceptors
        self.delay = delay
        self.timeout = timeout
        self.describe = describe
    }

    /// Polls `operation` until an acceptor says success or failure, or the timeout passes.
    /// - Parameters:
    ///   - clock: Time and sleeping.
    ///   - operation: The poll, for example a DescribeVolumes call.
    /// - Returns: The result the success acceptor matched.
    /// - Throws: ``WaiterError`` on a failure state or timeout; unmatched operation errors as is.
    public func wait(clock: EC2Clock, _ operation: @Sendable () async throws -> Output) async throws -> Output {
        let deadline = clock.now().addingTimeInterval(Self.seconds(timeout))
        var polls = 0
        var lastState = "no result yet"
        while true {
            polls += 1
            var outcome: State?
            do {
                let output = try await operation()
                lastState = describe(output)
                outcome = acceptors.first { $0.output?(output) ?? false }?.state ?? .retry
                if outcome == .success { return output }
            } catch let error as EC2Error {
                lastState = error.code
                guard let match = acceptors.first(where: { $0.errorCode == error.code }) else { throw error }
                outcome = match.state
                if outcome == .success {
                    throw WaiterError(kind: .failureState, waiter: name, lastState: lastState, polls: polls,
                                      message: "success on error code \(error.code) has no result to return")
                }
            }
            if outcome == .failure {
                throw WaiterError(kind: .failureState, waiter: name, lastState: lastState, polls: polls,
                                  message: "reached failure state \(lastState)")
            }
            if clock.now().addingTimeInterval(Self.seconds(delay)) > deadline {
                throw WaiterError(kind: .timedOut, waiter: name, lastState: lastState, polls: polls,
                                  message: "not done after \(timeout); last state \(lastState)")
            }
            try await clock.sleep(delay)
        }
    }

    static func seconds(_ duration: Duration) -> TimeInterval {
        let parts = duration.components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}

/// A waiter gave up.
public struct WaiterError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Why it gave up.
    public enum Kind: Sendable, Equatable {
        /// A failure acceptor matched (for example a volume in `error`).
        case failureState
        /// The timeout passed.
        case timedOut
    }

    /// Why it gave up.
    public var kind: Kind
    /// The waiter's name.
    public var waiter: String
    /// The last observed state (or error code).
    public var lastState: String
    /// How many polls were made.
    public var polls: Int
    /// The explanation.
    public var message: String

    /// `"<waiter>: <message>"`, with any registered secret redacted (the last state comes
    /// from a server; see ``SecretRedactor/processWide``).
    public var description: String { SecretRedactor.processWide.redact("\(waiter): \(message)") }
}
