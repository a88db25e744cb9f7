import ArgumentParser
import SpotTrain
import SpotTrainMPI

/// `spottrain-mpi`: SpotTrain under `mpirun`, every rank running the same command.
@main
struct SpotTrainMPICommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spottrain-mpi",
        abstract: "Data-parallel SpotTrain over MPI: run it under mpirun (mpirun -np 2 spottrain-mpi …).",
        subcommands: [MPITrainCommand.self, CheckCommand.self]
    )
}
