import Foundation

/// When and how long to wait before sending a failed request again.
///
/// Retries throttling errors (``EC2Error/throttlingCodes``; for S3, ``S3Error/isRetryable``),
/// 5xx responses and ``TransportError``s (no response at all), never other 4xx errors nor requests the
/// transport refused to send (``TransportError/Kind/unsupportedRequest``), nor oversized
/// responses (``TransportError/Kind/responseTooLarge``). The wait before retry
/// `n` (1-based) is `random() × min(maxDelay, baseDelay × 2^(n-1))`: exponential backoff
/// with "full jitter", so that many clients throttled at once do not retry in lockstep.
public struct RetryPolicy: Sendable {
    /// Attempts in total, the first included (1 disables retries).
    public var maxAttempts: Int
    /// The backoff before the first retry, before jitter.
    public var baseDelay: Duration
    /// The cap on any single backoff.
    public var maxDelay: Duration
    /// Returns a uniformly distributed number in `[0, 1)`; inject a fixed one in tests.
    public var random: @Sendable () -> Double

    /// Creates a policy.
    /// - Parameters:
    ///   - maxAttempts: Attempts in total (≥ 1).
    ///   - baseDelay: Backoff before the first retry (> 0).
    ///   - maxDelay: Cap on a single backoff (≥ `baseDelay`).
    ///   - random: Uniform `[0, 1)` source for the jitter.
    public init(maxAttempts: Int = 5, baseDelay: Duration = .milliseconds(500), maxDelay: Duration = .seconds(20),
                random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }) {
        precondition(maxAttempts >= 1, "RetryPolicy: maxAttempts \(maxAttempts) < 1")
        precondition(baseDelay > .zero && maxDelay >= baseDelay,
                     "RetryPolicy: need 0 < baseDelay (\(baseDelay)) <= maxDelay (\(maxDelay))")
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.random = random
    }

    /// Five attempts, 0.5 s base, 20 s cap.
    public static var standard: RetryPolicy { RetryPolicy() }

    /// A single attempt.
    public static var none: RetryPolicy { RetryPolicy(maxAttempts: 1) }

    /// Whether `error` is worth another attempt.
    /// - Parameter error: The error the last attempt threw.
    /// - Returns: True for throttling, 5xx and transport failures other than
    ///   ``TransportError/Kind/unsupportedRequest`` and ``TransportError/Kind/responseTooLarge``.
    public func isRetryable(_ error: any Error) -> Bool {
        if let error = error as? TransportError {
            return error.kind != .unsupportedRequest && error.kind != .responseTooLarge
        }
        if let error = error as? S3Error { return error.isRetryable }
        if let error = error as? EC2Error {
            if error.isThrottling { return true }
            // A capacity shortage (HTTP 500 InsufficientInstanceCapacity) does not pass in
            // seconds: the caller moves on to another instance type or subnet.
            if error.code == EC2Error.malformedResponseCode || error.isCapacityShortage { return false }
            return error.status >= 500 && error.status <= 599
        }
        return false
    }

    /// The jittered wait before retry number `retry`.
    /// - Parameter retry: 1 for the first retry (after the first attempt failed), and so on.
    /// - Returns: A duration in `[0, min(maxDelay, baseDelay × 2^(retry-1)))`.
    public func delay(beforeRetry retry: Int) -> Duration {
        precondition(retry >= 1, "RetryPolicy.delay: retry \(retry) < 1")
        let exponent = min(retry - 1, 30)
        let base = baseDelay * (1 << exponent)
        let ceiling = min(base, maxDelay)
        let fraction = min(max(random(), 0), 1)
        return ceiling * fraction
    }
}
