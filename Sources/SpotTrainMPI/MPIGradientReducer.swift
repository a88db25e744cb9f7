#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import SpotTrain
import Synchronization

/// Sums the gradients of a data-parallel step over the ranks of a ``Communicator``, together
/// with the step's metrics and a stop flag: one sum per large gradient, and one for the rest.
///
/// Set it as ``Trainer/gradientReducer`` on every rank. Each step it sums every gradient of
/// at least ``directThreshold`` values in place, then packs the smaller ones and
/// `[loss sum, correct, count, stop]` into one buffer and sums that, all with
/// ``Communicator/sumInRankOrder(_:)`` (deterministic: the same bits however the values are
/// grouped, since each value is a sum over the ranks in rank order). The stop element is 1 on a rank whose
/// local ``InterruptionSource`` has an interruption pending (SIGTERM, a spot notice), so every
/// rank learns of an interruption on *any* rank at the *same* step: ``interruptions`` (the
/// source to give ``SpotInterruption`` or ``CoordinatedStop``) reports it from that step on.
public final class MPIGradientReducer: GradientReducer {
    /// The ranks.
    public let communicator: Communicator
    /// This process's own interruptions (signals, spot notices), or `nil`.
    public let localInterruptions: (any InterruptionSource)?
    /// The interruptions agreed by all ranks: pending from the step at which any rank had one.
    /// Every rank sees the same value between two steps.
    public var interruptions: any InterruptionSource { coordinated }
    /// Seconds spent in the reduction so far: packing, communication, adding, unpacking, and
    /// waiting for the slowest rank to arrive (the collective starts when all have).
    public private(set) var communicationSeconds: Double = 0
    /// Steps reduced so far.
    public private(set) var steps = 0

    public var shard: Int { communicator.rank }
    public var shardCount: Int { communicator.size }

    private let coordinated = CoordinatedInterruptions()
    private var packed: [Float] = []
    private let clock = ContinuousClock()

    /// The values after the gradients: loss sum, correct, count, stop flag.
    static let extraValues = 4
    /// Gradients of at least this many values are summed in place rather than copied into
    /// the packed buffer and back (in the MNIST CNN, the first dense layer's 1.18 M weights).
    public static let directThreshold = 1 << 16

    /// Creates a reducer.
    /// - Parameters:
    ///   - communicator: The ranks that share each batch.
    ///   - localInterruptions: This rank's interruption source (for example the
    ///     ``InterruptionFlag`` its signal handler raises), or `nil`.
    public init(communicator: Communicator, localInterruptions: (any InterruptionSource)? = nil) {
        self.communicator = communicator
        self.localInterruptions = localInterruptions
        coordinated.local = localInterruptions
    }

    /// Sums `parameters`' gradients, `contribution` and the stop flag over all ranks.
    /// - Parameters:
    ///   - parameters: The model's parameters (the same shapes in the same order on every rank).
    ///   - contribution: This rank's metrics; the sums on return.
    /// - Throws: ``MPIError`` when the ranks cannot communicate.
    public func reduce(gradients parameters: [Parameter], contribution: inout StepContribution) throws {
        let start = clock.now
        defer {
            communicationSeconds += start.duration(to: clock.now).seconds
            steps += 1
        }
        let localRequest = localInterruptions?.pendingInterruption
        guard communicator.size > 1 else {
            // One rank: the sums are this rank's own values; only the stop flag matters.
            if let localRequest { coordinated.agree(localRequest) }
            return
        }
        var total = Self.extraValues
        for p in parameters where p.gradient.count < Self.directThreshold { total += p.gradient.count }
        if packed.count != total { packed = [Float](repeating: 0, count: total) }
        let stop: Float = localRequest == nil ? 0 : 1
        for p in parameters where p.gradient.count >= Self.directThreshold {
            try communicator.sumInRankOrder(UnsafeMutableBufferPointer(start: p.gradient.pointer, count: p.gradient.count))
        }
        try packed.withUnsafeMutableBufferPointer { buffer in
            guard let out = buffer.baseAddress else { return }
            var offset = 0
            for p in parameters where p.gradient.count < Self.directThreshold {
                (out + offset).update(from: p.gradient.pointer, count: p.gradient.count)
                offset += p.gradient.count
            }
            out[offset] = contribution.lossSum
            out[offset + 1] = Float(contribution.correct)
            out[offset + 2] = Float(contribution.count)
            out[offset + 3] = stop
            try communicator.sumInRankOrder(buffer)
            offset = 0
            for p in parameters where p.gradient.count < Self.directThreshold {
                p.gradient.pointer.update(from: out + offset, count: p.gradient.count)
                offset += p.gradient.count
            }
            contribution = StepContribution(lossSum: out[offset], correct: Int(out[offset + 1]), count: Int(out[offset + 2]))
            if out[offset + 3] > 0 {
                coordinated.agree(localRequest ?? InterruptionRequest(
                    kind: .signal, deadline: nil, detectedAt: Date(),
                    reason: "an interruption on another rank (\(Int(out[offset + 3])) of \(communicator.size) ranks)"))
            }
        }
    }
}

/// The interruption all ranks agreed on, and this rank's own rebalance recommendations.
final class CoordinatedInterruptions: InterruptionSource, @unchecked Sendable {
    private let agreed = Mutex<InterruptionRequest?>(nil)
    /// Set once, before training starts.
    var local: (any InterruptionSource)?

    var pendingInterruption: InterruptionRequest? {
        // The newest deadline known locally may be earlier than the one agreed on.
        guard var request = agreed.withLock({ $0 }) else { return nil }
        if let mine = local?.pendingInterruption?.deadline, request.deadline.map({ mine < $0 }) ?? true {
            request.deadline = mine
        }
        return request
    }

    var rebalanceRecommendation: InterruptionRequest? { local?.rebalanceRecommendation }

    func agree(_ request: InterruptionRequest) {
        agreed.withLock { if $0 == nil { $0 = request } }
    }
}
