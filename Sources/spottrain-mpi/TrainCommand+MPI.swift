import ArgumentParser
import SpotTrain
import SpotTrainCLI
import SpotTrainMPI

/// `spottrain-mpi train`: `spottrain train`'s flags and session, data-parallel over the ranks
/// of `mpirun` (`mpirun -np 2 spottrain-mpi train --data … --checkpoint-dir …`).
///
/// `--batch-size` is the global batch: each rank trains its slice of every global batch, in
/// the single process's data order, and the ranks sum their gradients in rank order (the same
/// bits in every run with the same number of ranks). Rank 0 prints progress and writes
/// `--summary`, `--metrics` and the checkpoints; every rank resumes from the checkpoint rank 0
/// picks, so a run may continue with another number of ranks. An interruption on any rank
/// stops every rank at the same step; rank 0 writes one checkpoint and every rank exits 75.
/// An error on one rank ends every rank (`MPI_Abort`) with that error's exit status.
struct MPITrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train the MNIST CNN data-parallel over the MPI ranks (the flags of `spottrain train`).",
        discussion: """
        Run under mpirun: mpirun -np N spottrain-mpi train --data DIR --checkpoint-dir DIR …
        --batch-size is the global batch, split over the ranks; the summary's samples_per_second
        counts every rank's samples and adds world_size, communication_seconds and
        rank_weights_checksums. Only rank 0 prints, writes the summary, the metrics and the
        checkpoints; a restart with any number of ranks resumes at the same global step.
        Exit codes as for `spottrain train`; an error on one rank ends all of them with its
        status. See Docs/Distributed.md.
        """
    )

    @OptionGroup var options: TrainCommand

    func run() throws {
        let world = try Communicator.world()
        let group = MPIGroup(world)
        let ending: TrainingSession.Ending
        do {
            ending = try reportingErrors(status: TrainCommand.exitStatus(for:)) {
                try TrainingSession(options: options, group: group).run()
            }
        } catch let exit as ExitCode {
            // The error is printed; the other ranks may wait in a collective for this one.
            world.abort(status: exit.rawValue)
        }
        try world.finalize()
        if ending.status != ExitStatus.success { throw ExitCode(ending.status) }
    }
}

/// ``DataParallelGroup`` over an MPI ``Communicator``.
final class MPIGroup: DataParallelGroup {
    let communicator: Communicator
    private var reducer: MPIGradientReducer?

    init(_ communicator: Communicator) {
        self.communicator = communicator
    }

    var rank: Int { communicator.rank }
    var worldSize: Int { communicator.size }
    var communicationSeconds: Double { reducer?.communicationSeconds ?? 0 }

    func makeReducer(localInterruptions: any InterruptionSource)
        -> (reducer: any GradientReducer, interruptions: any InterruptionSource, follower: any Callback) {
        let made = MPIGradientReducer(communicator: communicator, localInterruptions: localInterruptions)
        reducer = made
        return (made, made.interruptions, CoordinatedStop(source: made.interruptions))
    }

    func broadcast(_ bytes: inout [UInt8]) throws {
        try communicator.broadcast(&bytes)
    }

    func allgather(_ value: UInt64) throws -> [UInt64] {
        try communicator.allgather(value)
    }
}
