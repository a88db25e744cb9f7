import EC2Spot
import Foundation
import SpotTrain

/// The glue between EC2Spot and SpotTrain: polls IMDS with an ``InterruptionWatcher`` and
/// raises every spot notice on SpotTrain's ``InterruptionFlag``, which the training loop's
/// ``SpotInterruption`` callback reads after each batch. (Neither library imports the other.)
///
/// The watcher runs in a task on the global concurrent executor, so it keeps polling while
/// the synchronous training loop occupies the main thread. IMDS failures are logged as
/// warnings (the first, then after 2, 4, 8, … consecutive failures of the same endpoint) and
/// polling goes on: a flaky metadata service must never stop training.
///
/// Any HTTP 200 on `spot/instance-action` is an interruption, even when its document cannot be
/// read (EC2Spot decodes it fail-safe and lists what it could not read; the feed prints each
/// as a warning). When the deadline itself is unreadable the request carries no deadline:
/// training stops at the end of the current batch and writes the emergency checkpoint either
/// way (no deadline ever skips it); a guessed instant is not reported as the deadline.
final class SpotNoticeFeed: Sendable {
    /// The IMDS base URL polled.
    let endpoint: URL
    private let watcher: InterruptionWatcher

    /// Creates the feed; call ``start()`` to begin polling.
    /// - Parameters:
    ///   - endpoint: The IMDS base URL, or `nil` for `AWS_EC2_METADATA_SERVICE_ENDPOINT` or
    ///     the real default.
    ///   - pollInterval: Seconds between polls.
    ///   - flag: Where notices are raised.
    /// - Throws: ``IMDSError`` for an invalid endpoint.
    init(endpoint: URL?, pollInterval: Double, flag: InterruptionFlag) throws {
        let client = try InstanceMetadataClient(endpoint: endpoint)
        self.endpoint = client.endpoint
        watcher = InterruptionWatcher(
            source: client,
            pollInterval: .nanoseconds(Int64(pollInterval * 1e9)),
            onNotice: { notice in
                for warning in notice.warnings {
                    printNotice("warning: IMDS notice document: \(warning)")
                }
                let request = SpotNoticeFeed.request(for: notice, detectedAt: Date())
                if notice.isInterruption {
                    if flag.raise(request) {
                        let deadline: String
                        if let left = request.secondsRemaining(at: request.detectedAt) {
                            deadline = "deadline " + InterruptionRequest.format(notice.time) + String(format: " (%.1f s from now)", left)
                        } else {
                            deadline = "deadline unknown (the notice's time could not be read)"
                        }
                        printNotice("interruption: spot \(notice.kind.rawValue) notice from IMDS, \(deadline); "
                                    + "finishing the current batch, then checkpointing and stopping")
                    } else {
                        printNotice("interruption: spot notice updated: \(notice)")
                    }
                } else {
                    flag.raise(request)
                    printNotice("rebalance recommendation from IMDS (issued \(InterruptionRequest.format(notice.time))); "
                                + "checkpointing early, training continues")
                }
            },
            onFailure: { failure in
                if failure.isWorthLogging {
                    printNotice("warning: \(failure); training continues, polling goes on")
                }
            })
    }

    /// Starts polling in a background task.
    func start() { watcher.start() }

    /// Stops polling.
    func stop() { watcher.stop() }

    /// Polls completed so far and failed checks, for the final log line.
    var statistics: InterruptionWatcher.Statistics { watcher.statistics }

    /// Translates an EC2Spot notice into SpotTrain's request.
    static func request(for notice: InterruptionNotice, detectedAt: Date) -> InterruptionRequest {
        let kind: InterruptionRequest.Kind
        switch notice.kind {
        case .terminate: kind = .terminate
        case .stop: kind = .stop
        case .hibernate: kind = .hibernate
        case .rebalanceRecommendation: kind = .rebalanceRecommendation
        }
        var reason = notice.isInterruption ? "IMDS spot/instance-action" : "IMDS events/recommendations/rebalance"
        if notice.isTimeEstimated { reason += " (time unreadable)" }
        // An estimated deadline is a guess ("now"): passing it on would make SpotInterruption
        // warn that the deadline passed and report a made-up margin. An unknown deadline means
        // "save at once", which is what a request without a deadline does.
        let deadline = notice.isTimeEstimated ? nil : notice.deadline
        return InterruptionRequest(kind: kind, deadline: deadline, detectedAt: detectedAt, reason: reason)
    }
}
