/// Where ``SpotInterruption`` learns that training must stop: a spot notice (delivered by an
/// IMDS watcher in the executable), a termination signal, or anything a test or another
/// cloud supplies.
///
/// The training loop reads a source once after every batch, on its own thread, while the
/// notices arrive on others: conforming types must be thread-safe and their reads cheap
/// (no I/O). ``InterruptionFlag`` is the ready-made implementation that every feeder
/// (signal handler, watcher, test) can write to.
public protocol InterruptionSource: Sendable {
    /// The interruption that was requested, or `nil` while none is. Once set it stays set
    /// (its deadline may move earlier if a later, more urgent request arrives).
    var pendingInterruption: InterruptionRequest? { get }
    /// The newest rebalance recommendation, or `nil` if there was none.
    var rebalanceRecommendation: InterruptionRequest? { get }
}
