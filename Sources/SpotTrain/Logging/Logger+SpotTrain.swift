import Logging

// The library's diagnostics (skipped checkpoints, failed saves, interruptions, replaced
// hyperparameters, upload failures) are swift-log events. Every type that reports them takes
// an optional `Logger` in its initialiser; without one it makes its own with one of the labels
// below, through whatever `LoggingSystem` the program bootstrapped (swift-log's default, when
// nothing was bootstrapped, writes `info` and above to standard error).
//
// Levels: `error` for a lost save or upload (the newest state is not where it should be),
// `warning` for something skipped or retried, `notice` for an interruption acted on or a
// hyperparameter a resume replaced, `info` for routine progress (a download, a saved
// emergency checkpoint's timing).
//
// Metadata never holds a secret: only paths, store locations, steps, signal names, seconds
// and error codes. An error's own text goes in the message (the `spottrain` CLI redacts
// secrets from messages before printing them).

extension Logger {
    /// The labels of the library's loggers.
    enum SpotTrainLabel {
        /// ``ModelCheckpoint`` and ``Resume``: saves, pruning, skipped files on resume.
        static let checkpoint = "spottrain.checkpoint"
        /// ``SpotInterruption`` and ``SignalInterruptionSource``: notices, signals,
        /// emergency saves.
        static let interruption = "spottrain.interruption"
        /// ``CheckpointMirror`` and resuming from a ``CheckpointStore``: uploads, downloads.
        static let store = "spottrain.store"
    }
}

extension Logger.Metadata {
    /// `error_type` and, for the library's typed errors, `error_code` (the code's raw value):
    /// what a program filtering events needs, without the error's text.
    /// - Parameter error: The error an event reports.
    /// - Returns: The metadata describing it.
    static func describing(_ error: any Error) -> Logger.Metadata {
        var metadata: Logger.Metadata = ["error_type": "\(type(of: error))"]
        if let code = errorCode(of: error) { metadata["error_code"] = "\(code)" }
        return metadata
    }

    /// The code of one of the library's typed errors, or `nil`.
    private static func errorCode(of error: any Error) -> String? {
        switch error {
        case let error as CheckpointError: error.code.rawValue
        case let error as CheckpointStoreError: error.code.rawValue
        case let error as TrainingError: error.code.rawValue
        case let error as WeightsError: error.code.rawValue
        case let error as IDXError: error.code.rawValue
        case let error as MNISTError: error.code.rawValue
        default: nil
        }
    }

    /// `self` with `other`'s entries added (`other` wins on a shared key).
    func merging(_ other: Logger.Metadata) -> Logger.Metadata {
        merging(other) { _, new in new }
    }
}
