import ArgumentParser
import Logging
import SpotTrain

/// The `spottrain` command: train with checkpoints that survive spot interruptions.
@main
struct SpotTrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spottrain",
        abstract: "Checkpointed neural-network training for interruptible (EC2 spot) machines.",
        version: SpotTrainLibrary.version,
        subcommands: [TrainCommand.self, CheckpointCommand.self, EC2Command.self, SimulateCommand.self, DataCommand.self,
                      JobCommand.self]
    )

    /// Installs the standard-error log handler (the library's diagnostics print as
    /// `spottrain: …` lines), then parses and runs the command.
    static func main() async {
        StandardErrorLogHandler.bootstrap()
        await main(nil)
    }
}
