import SpotTrain

extension TrainCommand {
    /// Checks every path flag before anything is loaded, trained or written (see
    /// ``PathArguments``): `--data` a directory, `--checkpoint-dir` a directory or missing,
    /// `--summary` and `--metrics` regular files or missing in a writable directory. Nothing
    /// is created.
    /// - Throws: `ExitCode(64)` after printing which flag and path, and why.
    func checkPaths() throws {
        try PathArguments.require(data, is: .inputDirectory, for: "--data")
        if let checkpointDir { try PathArguments.require(checkpointDir, is: .directory, for: "--checkpoint-dir") }
        if let summary { try PathArguments.require(summary, is: .outputFile, for: "--summary") }
        if let metrics { try PathArguments.require(metrics, is: .outputFile, for: "--metrics") }
    }

    /// Takes the `--checkpoint-dir` writer lock (creating the directory), before resume or
    /// `--fresh` touch anything. Hold the result until the run ends.
    /// - Returns: The lock, or nil without `--checkpoint-dir`.
    /// - Throws: ``CheckpointError`` `.locked` naming the holder's PID (exit 1: the holder
    ///   may finish, and a restart then succeeds), or `.io`.
    func lockCheckpointDirectory() throws -> CheckpointDirectoryLock? {
        try checkpointDir.map { try CheckpointDirectory(path: $0).lock() }
    }
}
