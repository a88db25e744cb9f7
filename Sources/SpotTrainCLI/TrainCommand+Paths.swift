import SpotTrain

extension TrainCommand {
    /// Checks every path flag before anything is loaded, trained or written (see
    /// ``PathArguments``): `--data` a directory (unless `s3://`), `--data-cache-dir`, `--checkpoint-dir` a directory or missing,
    /// `--summary` and `--metrics` regular files or missing in a writable directory. Nothing
    /// is created.
    /// - Throws: `ExitCode(64)` after printing which flag and path, and why.
    func checkPaths() throws {
        if !TrainCommand.isS3URL(data) { try PathArguments.require(data, is: .inputDirectory, for: "--data") }
        if let dataCacheDir { try PathArguments.require(dataCacheDir, is: .directory, for: "--data-cache-dir") }
        if let checkpointDir, !TrainCommand.isS3URL(checkpointDir) {
            try PathArguments.require(checkpointDir, is: .directory, for: "--checkpoint-dir")
        }
        if let cacheDir { try PathArguments.require(cacheDir, is: .directory, for: "--cache-dir") }
        if let summary { try PathArguments.require(summary, is: .outputFile, for: "--summary") }
        if let metrics { try PathArguments.require(metrics, is: .outputFile, for: "--metrics") }
    }
}
