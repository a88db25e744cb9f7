import Foundation

/// Where EC2Spot reads the time and how it sleeps: injected so that retries and waiters
/// can be tested without waiting (a test clock advances its time when asked to sleep).
public struct EC2Clock: Sendable {
    /// The current time (signing dates and waiter deadlines).
    public var now: @Sendable () -> Date
    /// Suspends for the given duration.
    /// - Throws: `CancellationError` when the task is cancelled.
    public var sleep: @Sendable (Duration) async throws -> Void

    /// Creates a clock.
    /// - Parameters:
    ///   - now: Returns the current time.
    ///   - sleep: Suspends for a duration.
    public init(now: @escaping @Sendable () -> Date, sleep: @escaping @Sendable (Duration) async throws -> Void) {
        self.now = now
        self.sleep = sleep
    }

    /// The real clock: `Date()` and `Task.sleep`.
    public static let system = EC2Clock(now: { Date() }, sleep: { try await Task.sleep(for: $0) })
}
