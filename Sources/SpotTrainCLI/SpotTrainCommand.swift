import ArgumentParser
import Logging
import SpotTrain

/// The `spottrain` command: train with checkpoints that survive spot interruptions. Its
/// `main` is `Sources/spottrain/main.swift`; `spottrain-mpi train` runs the same
/// ``TrainCommand`` options through the same ``TrainingSession``.
package struct SpotTrainCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "spottrain",
        abstract: "Checkpointed neural-network training for interruptible (EC2 spot) machines.",
        version: SpotTrainLibrary.version,
        subcommands: [TrainCommand.self, CheckpointCommand.self, EC2Command.self, SimulateCommand.self, DataCommand.self,
                      JobCommand.self]
    )

    /// The entry point (`Sources/spottrain/main.swift`): installs the standard-error log handler (the library's diagnostics print as
    /// `spottrain: …` lines), then parses and runs the command.
    package static func start() async {
        StandardErrorLogHandler.bootstrap()
        await main(nil)
    }

    package init() {}
}
