import Crypto
import Foundation
import SpotTrain

/// The processes of a data-parallel run, as ``TrainingSession`` sees them: `spottrain-mpi`
/// implements it over MPI, so that this target (and `spottrain`) never links MPI.
///
/// Every rank runs the same session. Rank 0 prints, writes `--summary`, `--metrics` and the
/// checkpoints, and picks the checkpoint to resume from; the others train their slice of every
/// global batch and write nothing. All calls are collective: every rank makes them, in the
/// same order, from the training thread.
package protocol DataParallelGroup: AnyObject {
    /// This process's rank, in `0..<worldSize`.
    var rank: Int { get }
    /// The number of processes.
    var worldSize: Int { get }
    /// Seconds spent in the per-step reduction so far (packing, waiting, communicating, adding).
    var communicationSeconds: Double { get }
    /// Makes the reducer the trainer sums each step's gradients with, which also carries this
    /// rank's interruptions to the others.
    /// - Parameter localInterruptions: This rank's signals and spot notices.
    /// - Returns: The reducer, the interruptions every rank agreed on (pending on every rank
    ///   from the same step), and the callback that stops a rank other than 0 at that step.
    func makeReducer(localInterruptions: any InterruptionSource)
        -> (reducer: any GradientReducer, interruptions: any InterruptionSource, follower: any Callback)
    /// Sends rank 0's bytes to every rank (any length; empty is allowed).
    /// - Parameter bytes: Rank 0's data on rank 0; replaced by it on the others.
    /// - Throws: When the ranks cannot communicate.
    func broadcast(_ bytes: inout [UInt8]) throws
    /// Gathers one value from every rank onto every rank.
    /// - Parameter value: This rank's value.
    /// - Returns: The values, indexed by rank.
    /// - Throws: When the ranks cannot communicate.
    func allgather(_ value: UInt64) throws -> [UInt64]
}

extension TrainingSession {
    /// Whether this process prints, writes files and picks the resume point: always without a
    /// group, rank 0 with one.
    var isRoot: Bool { (group?.rank ?? 0) == 0 }

    /// Gives every rank rank 0's resume point: rank 0 sends the checkpoint file's bytes (none
    /// when it starts fresh), the others decode them and restore the same state, so that every
    /// rank starts from the same weights, step and data position, whatever each machine's disk
    /// holds. A checkpoint written by a run with another number of ranks resumes the same way
    /// (the format and the global position do not depend on it).
    /// - Parameters:
    ///   - group: The ranks.
    ///   - point: Rank 0's resume point (ignored on the others).
    ///   - trainer: The freshly built trainer of this rank.
    /// - Returns: The resume point of this rank (rank 0's own), nil to start fresh.
    /// - Throws: ``CheckpointError`` when the bytes do not decode or do not fit the model,
    ///   I/O errors when rank 0 cannot re-read its file, errors of the broadcast.
    func shareResumePoint(_ group: any DataParallelGroup, _ point: ResumePoint?, trainer: Trainer) throws -> ResumePoint? {
        var bytes: [UInt8] = []
        if group.rank == 0, let point {
            bytes = Array((point.source + "\n").utf8) + [UInt8](try Data(contentsOf: URL(fileURLWithPath: point.file.path)))
        }
        try group.broadcast(&bytes)
        if group.rank == 0 { return point }
        guard !bytes.isEmpty else { return nil }
        // Rank 0 names its file first: "<path>\n" then the checkpoint's bytes.
        guard let newline = bytes.firstIndex(of: 0x0A) else {
            throw CheckpointError(.malformed, "the resume point rank 0 sent has no file name", path: "rank 0's checkpoint")
        }
        let path = String(decoding: bytes[..<newline], as: UTF8.self)
        let checkpoint = try CheckpointReader.decode(Array(bytes[(newline + 1)...]), path: path)
        let name = URL(fileURLWithPath: path).lastPathComponent
        let file = CheckpointFile(path: path, name: name, globalStep: CheckpointDirectory.globalStep(fromFileName: name) ?? 0)
        return try Resume.restore(checkpoint, of: file, into: trainer)
    }

    /// The exit status every rank ends with: rank 0's, sent to the others once rank 0 has
    /// written its last checkpoint and the summary. This is also the wait that keeps the other
    /// ranks alive until then: `mpirun` ends the whole job as soon as one rank exits non-zero.
    /// - Parameters:
    ///   - group: The ranks.
    ///   - status: This rank's status (rank 0's is the one used).
    /// - Returns: Rank 0's status.
    /// - Throws: Errors of the broadcast.
    static func agreeOnStatus(_ group: any DataParallelGroup, _ status: Int32) throws -> Int32 {
        var bytes = withUnsafeBytes(of: status.littleEndian) { [UInt8]($0) }
        try group.broadcast(&bytes)
        guard bytes.count == 4 else { return ExitStatus.failure }
        return Int32(littleEndian: bytes.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) })
    }

    /// Every rank's weights as an 8-byte prefix of the SHA-256 of their bytes, in rank order
    /// (hex), to show in the summary that the ranks hold identical weights.
    /// - Parameters:
    ///   - group: The ranks.
    ///   - model: This rank's model.
    /// - Returns: One checksum per rank.
    /// - Throws: Errors of the gather.
    static func rankChecksums(_ group: any DataParallelGroup, _ model: Sequential) throws -> [String] {
        let digest = Array(SHA256.hash(data: model.parameterFingerprintBytes()))
        let mine = digest.prefix(8).reduce(UInt64(0)) { ($0 << 8) | UInt64($1) }
        return try group.allgather(mine).map { String(format: "%016llx", $0) }
    }
}

/// Makes a stop that a callback requested on one rank only (a failed save on rank 0, the
/// interruption handler there, a divergence) a stop of every rank at the same step, with the
/// same status: after every batch and every epoch, each rank sends the status it would stop
/// with (none, stopped, interrupted, diverged) and every rank requests each of them. Without
/// it, a rank that left the loop would leave the others waiting forever in the next reduction.
///
/// Register it last, so that it sees what the other callbacks decided. One 8-byte gather per
/// step on each rank.
final class StopAgreement: Callback {
    let group: any DataParallelGroup

    init(group: any DataParallelGroup) {
        self.group = group
    }

    func batchEnd(_ context: TrainingContext) throws { try agree(context) }
    func epochEnd(_ context: TrainingContext) throws { try agree(context) }

    private static let statuses: [TrainingStatus] = [.stopped, .interrupted, .diverged]

    private func agree(_ context: TrainingContext) throws {
        let mine = context.requestedStopStatus.flatMap { Self.statuses.firstIndex(of: $0) }.map { UInt64($0 + 1) } ?? 0
        let all = try group.allgather(mine)
        for (rank, code) in all.enumerated() where code > 0 && code <= UInt64(Self.statuses.count) && rank != group.rank {
            context.requestStop(Self.statuses[Int(code) - 1], reason: context.stopReason ?? "rank \(rank) stopped")
        }
    }
}
