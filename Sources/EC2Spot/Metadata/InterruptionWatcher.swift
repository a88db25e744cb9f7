import Foundation

/// Polls IMDS for spot interruption notices and rebalance recommendations and delivers each
/// distinct notice once, through ``notices`` (an `AsyncStream`) and an optional callback.
///
/// AWS recommends polling every five seconds; the two-minute warning leaves ample time. The
/// watcher survives IMDS errors: each failed check is counted, reported to `onFailure`, and
/// polling simply continues. A notice is "distinct" by kind and time, so a changed deadline
/// or a `stop` that becomes a `terminate` is delivered again; a notice whose time is an
/// estimate (``InterruptionNotice/isTimeEstimated``: the document's time was unreadable, so
/// each poll estimates anew) is distinct by kind alone, so it is delivered once.
///
/// Any HTTP 200 on either path is a notice (the documents decode fail-safe, see
/// ``SpotInstanceAction``); only a 404 means "no notice".
///
/// ```swift
/// let client = try InstanceMetadataClient()
/// let watcher = InterruptionWatcher(source: client)
/// watcher.start()
/// for await notice in watcher.notices where notice.isInterruption {
///     print(notice.jsonLine)   // checkpoint and exit before notice.deadline
///     break
/// }
/// watcher.stop()
/// ```
///
/// A watcher runs once: after ``stop()`` (or the end of ``run()``) its stream is finished and
/// it cannot be restarted. ``notices`` supports a single consumer.
public final class InterruptionWatcher: @unchecked Sendable {
    /// Which endpoint a poll failure came from.
    public enum Check: String, Sendable, Hashable {
        /// `spot/instance-action`.
        case instanceAction = "spot/instance-action"
        /// `events/recommendations/rebalance`.
        case rebalanceRecommendation = "events/recommendations/rebalance"
    }

    /// One failed check, as reported to `onFailure`.
    public struct Failure: Sendable, CustomStringConvertible {
        /// The endpoint that failed.
        public var check: Check
        /// The error (usually an ``IMDSError``).
        public var error: any Error
        /// Failures in a row of this check (each endpoint keeps its own streak, so a healthy
        /// rebalance check does not reset a failing instance-action streak), including this
        /// one.
        public var consecutiveFailures: Int
        /// Failures since the watcher was created, including this one.
        public var totalFailures: Int

        /// `IMDS check spot/instance-action failed (3 in a row, 5 total): …`.
        public var description: String {
            "IMDS check \(check.rawValue) failed (\(consecutiveFailures) in a row, \(totalFailures) total): \(error)"
        }

        /// Whether a log that backs off should show this failure: the first of a streak, then
        /// the 2nd, 4th, 8th, … in a row (a power of two), per check.
        public var isWorthLogging: Bool {
            consecutiveFailures > 0 && consecutiveFailures & (consecutiveFailures - 1) == 0
        }
    }

    /// Counters, for logs and tests.
    public struct Statistics: Sendable, Equatable {
        /// Completed poll rounds (each checks instance-action and, if enabled, rebalance).
        public var polls: Int
        /// Failed checks.
        public var failures: Int
        /// Notices delivered.
        public var noticesDelivered: Int
    }

    /// Each distinct notice, in the order found. Finishes when the watcher stops.
    public let notices: AsyncStream<InterruptionNotice>

    private let continuation: AsyncStream<InterruptionNotice>.Continuation
    private let source: any SpotNoticeSource
    private let pollInterval: Duration
    private let watchesRebalance: Bool
    private let sleep: @Sendable (Duration) async throws -> Void
    private let onNotice: (@Sendable (InterruptionNotice) -> Void)?
    private let onFailure: @Sendable (Failure) -> Void

    private let lock = NSLock()
    private var delivered: Set<DeliveryKey> = []
    private var pollTask: Task<Void, Never>?
    private var isStopped = false
    private var consecutiveFailures: [Check: Int] = [:]
    private var counters = Statistics(polls: 0, failures: 0, noticesDelivered: 0)

    /// Creates a watcher; call ``start()`` or ``run()`` to begin polling.
    /// - Parameters:
    ///   - source: Where notices come from, usually an ``InstanceMetadataClient``.
    ///   - pollInterval: The pause between poll rounds (default five seconds); must be
    ///     positive.
    ///   - watchesRebalance: Whether to check rebalance recommendations too (default `true`).
    ///   - sleep: How to pause (default `Task.sleep(for:)`); injectable for tests. Throwing
    ///     (for example on cancellation) ends the polling.
    ///   - onNotice: Called once for each distinct notice, on the polling task, before the
    ///     notice is yielded to ``notices``. Keep it short.
    ///   - onFailure: Called for each failed check (default: ignore; the count is kept in
    ///     ``statistics``).
    public init(source: any SpotNoticeSource,
                pollInterval: Duration = .seconds(5),
                watchesRebalance: Bool = true,
                sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) },
                onNotice: (@Sendable (InterruptionNotice) -> Void)? = nil,
                onFailure: @escaping @Sendable (Failure) -> Void = { _ in }) {
        precondition(pollInterval > .zero, "pollInterval must be positive, got \(pollInterval)")
        self.source = source
        self.pollInterval = pollInterval
        self.watchesRebalance = watchesRebalance
        self.sleep = sleep
        self.onNotice = onNotice
        self.onFailure = onFailure
        (notices, continuation) = AsyncStream.makeStream(of: InterruptionNotice.self, bufferingPolicy: .unbounded)
    }

    deinit {
        continuation.finish()
    }

    /// The counters so far.
    public var statistics: Statistics {
        lock.withLock { counters }
    }

    /// Whether the watcher has stopped.
    public var hasStopped: Bool {
        lock.withLock { isStopped }
    }

    /// Starts polling in a new task. Calling it again, or after ``stop()``, does nothing.
    public func start() {
        lock.withLock {
            guard pollTask == nil, !isStopped else { return }
            pollTask = Task { [self] in await self.run() }
        }
    }

    /// Stops polling (cancelling the task ``start()`` made) and finishes ``notices``.
    /// Idempotent.
    public func stop() {
        let task = lock.withLock { () -> Task<Void, Never>? in
            isStopped = true
            let task = pollTask
            pollTask = nil
            return task
        }
        task?.cancel()
        continuation.finish()
    }

    /// Polls in the calling task until it is cancelled, ``stop()`` is called, or `sleep`
    /// throws; then stops the watcher (finishing ``notices``).
    public func run() async {
        while !Task.isCancelled && !hasStopped {
            _ = await pollOnce()
            do {
                try await sleep(pollInterval)
            } catch {
                break
            }
        }
        stop()
    }

    /// Runs one poll round: checks instance-action (and rebalance), delivers notices not
    /// delivered before, and reports failures.
    /// - Returns: The notices delivered by this round (empty most of the time).
    @discardableResult
    public func pollOnce() async -> [InterruptionNotice] {
        var found: [InterruptionNotice] = []
        do {
            if let action = try await source.spotInstanceAction() {
                found.append(InterruptionNotice(action))
            }
            recordSuccess(.instanceAction)
        } catch {
            if error is CancellationError { return [] }
            recordFailure(.instanceAction, error)
        }
        if watchesRebalance {
            do {
                if let recommendation = try await source.rebalanceRecommendation() {
                    found.append(InterruptionNotice(recommendation))
                }
                recordSuccess(.rebalanceRecommendation)
            } catch {
                if error is CancellationError { return [] }
                recordFailure(.rebalanceRecommendation, error)
            }
        }
        let fresh = lock.withLock { () -> [InterruptionNotice] in
            counters.polls += 1
            guard !isStopped else { return [] }
            let fresh = found.filter { delivered.insert(DeliveryKey($0)).inserted }
            counters.noticesDelivered += fresh.count
            return fresh
        }
        for notice in fresh {
            onNotice?(notice)
            continuation.yield(notice)
        }
        return fresh
    }

    private func recordSuccess(_ check: Check) {
        lock.withLock { consecutiveFailures[check] = 0 }
    }

    private func recordFailure(_ check: Check, _ error: any Error) {
        let failure = lock.withLock { () -> Failure in
            let streak = consecutiveFailures[check, default: 0] + 1
            consecutiveFailures[check] = streak
            counters.failures += 1
            return Failure(check: check, error: error, consecutiveFailures: streak,
                           totalFailures: counters.failures)
        }
        onFailure(failure)
    }

    /// What makes a notice distinct: its kind and, unless estimated, its time.
    private struct DeliveryKey: Hashable {
        var kind: InterruptionNotice.Kind
        var time: Date?

        init(_ notice: InterruptionNotice) {
            kind = notice.kind
            time = notice.isTimeEstimated ? nil : notice.time
        }
    }
}
