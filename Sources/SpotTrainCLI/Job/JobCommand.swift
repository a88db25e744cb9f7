import ArgumentParser
import EC2Spot

/// `spottrain job …`: a training job that an EC2 Auto Scaling group relaunches after every
/// spot interruption until it finishes. See `Docs/SpotWorkflow.md`.
struct JobCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "job",
        abstract: "A training job that comes back after every spot interruption until it finishes.",
        subcommands: [JobUpCommand.self, JobStatusCommand.self, JobDownCommand.self, JobRunCommand.self, JobUserDataCommand.self]
    )

    /// The exit status of an error of `job …` outside training: ``JobError/exitStatus``, else
    /// as `spottrain train` (``TrainCommand/exitStatus(for:)``); IMDS failures are 1.
    static func exitStatus(for error: Error) -> Int32 {
        if let error = error as? JobError { return error.exitStatus }
        if error is IMDSError { return ExitStatus.failure }
        return TrainCommand.exitStatus(for: error)
    }
}
