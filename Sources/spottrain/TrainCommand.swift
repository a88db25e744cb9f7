import ArgumentParser
import Crypto
import Foundation
import SpotTrain

/// `spottrain train`: trains the MNIST CNN (the Keras mnist_cnn) with Adam.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train the MNIST CNN, with checkpoints that survive interruptions.",
        discussion: """
        Reads the four standard MNIST IDX files (raw or gzipped) from --data. Progress goes to
        standard error; --summary writes one JSON object when the run ends.

        Interruptions: with --checkpoint-dir, SIGTERM or SIGINT makes the run finish the current
        batch, write a checkpoint and stop (a second signal exits at once). --spot also polls
        the EC2 instance-metadata service (IMDSv2) for spot interruption notices, which are
        handled the same way, within their two-minute deadline; a rebalance recommendation
        triggers an early checkpoint. If the deadline has passed (or is too close for a save),
        or the emergency save fails, the previous checkpoint is kept and the run exits 1.

        Exit codes: 0 done; 75 interrupted after writing a checkpoint of the step it stopped
        at (restart to continue, nothing lost); 1 runtime error, including an interruption
        that could not be checkpointed (a restart resumes from the previous checkpoint), or
        another process holding --checkpoint-dir's lock; 64 usage error, including a path
        flag naming something of the wrong kind (a FIFO, a directory for a file, …).
        """
    )

    @Option(help: "Directory with the MNIST IDX files (train-images-idx3-ubyte[.gz], …).")
    var data: String

    @Option(help: "Total number of epochs.")
    var epochs: Int = 12

    @Option(name: .customLong("batch-size"), help: "Examples per training step.")
    var batchSize: Int = 128

    @Option(name: .customLong("learning-rate"), help: "Adam learning rate.")
    var learningRate: Float = 0.001

    @Option(help: "Seed for initial weights, shuffling and dropout.")
    var seed: UInt64 = 1

    @Option(help: "Threads for SpotTrain's kernels (default: all cores). Results are bit-identical for any value.")
    var threads: Int?

    @Option(name: .customLong("max-steps"), help: "Stop after this global step.")
    var maxSteps: Int?

    @Option(name: .customLong("train-limit"), help: "Use only the first N training examples.")
    var trainLimit: Int?

    @Option(name: .customLong("test-limit"), help: "Use only the first N test examples.")
    var testLimit: Int?

    @Option(help: "Append per-epoch metrics to this file (.jsonl: JSON lines, .csv: CSV).")
    var metrics: String?

    @Option(help: "Write a JSON summary of the run to this file when it ends.")
    var summary: String?

    @Option(name: .customLong("checkpoint-dir"),
            help: "Save checkpoints here (every epoch) and resume from the newest valid one.")
    var checkpointDir: String?

    @Option(name: .customLong("save-every-steps"), help: "Also save a checkpoint every N global steps.")
    var saveEverySteps: Int?

    @Option(name: .customLong("save-every-seconds"), help: "Also save a checkpoint when T seconds passed since the last.")
    var saveEverySeconds: Double?

    @Option(help: "Keep only the newest K checkpoints.")
    var keep: Int?

    @Flag(help: "Start from scratch: move existing checkpoints in --checkpoint-dir aside instead of resuming.")
    var fresh = false

    @Flag(help: "Do not show progress.")
    var quiet = false

    @Flag(help: "Watch the EC2 instance-metadata service for spot interruption notices (needs --checkpoint-dir).")
    var spot = false

    @Option(name: .customLong("imds-endpoint"),
            help: "IMDS base URL for --spot (default: $AWS_EC2_METADATA_SERVICE_ENDPOINT, else http://169.254.169.254).")
    var imdsEndpoint: String?

    @Option(name: .customLong("poll-interval"), help: "Seconds between IMDS polls with --spot (default 5).")
    var pollInterval: Double?

    func validate() throws {
        guard epochs >= 0 else { throw ValidationError("--epochs must not be negative") }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
        guard learningRate > 0, learningRate.isFinite else { throw ValidationError("--learning-rate must be positive") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if let maxSteps, maxSteps < 0 { throw ValidationError("--max-steps must not be negative") }
        if let trainLimit, trainLimit < 1 { throw ValidationError("--train-limit must be at least 1") }
        if let testLimit, testLimit < 1 { throw ValidationError("--test-limit must be at least 1") }
        if let saveEverySteps, saveEverySteps < 1 { throw ValidationError("--save-every-steps must be at least 1") }
        if let saveEverySeconds, !(saveEverySeconds > 0) { throw ValidationError("--save-every-seconds must be positive") }
        if let keep, keep < 1 { throw ValidationError("--keep must be at least 1") }
        if checkpointDir == nil && (saveEverySteps != nil || saveEverySeconds != nil || keep != nil || fresh) {
            throw ValidationError("--save-every-steps, --save-every-seconds, --keep and --fresh need --checkpoint-dir")
        }
        if spot && checkpointDir == nil {
            throw ValidationError("--spot needs --checkpoint-dir: an interruption is only survivable with a checkpoint")
        }
        if !spot && (imdsEndpoint != nil || pollInterval != nil) {
            throw ValidationError("--imds-endpoint and --poll-interval need --spot")
        }
        if let pollInterval, !(pollInterval > 0 && pollInterval <= 3600) {
            throw ValidationError("--poll-interval must be a number of seconds in (0, 3600]")
        }
        if let imdsEndpoint {
            guard let url = URL(string: imdsEndpoint), url.scheme?.lowercased() == "http", url.host != nil else {
                throw ValidationError("--imds-endpoint must be an http:// URL with a host, got '\(imdsEndpoint)'")
            }
        }
    }

    func run() throws {
        try reportingErrors { try train() }
    }

    private func train() throws {
        let clock = ContinuousClock()
        let start = clock.now
        try checkPaths()
        let directoryLock = try lockCheckpointDirectory()
        defer { directoryLock?.release() }
        var signals: SignalInterruptionSource?
        var feed: SpotNoticeFeed?
        defer {
            feed?.stop()
            signals?.uninstall()
        }
        // Handle signals and notices from the start: one arriving while the data and the
        // checkpoint load is acted on before the first batch.
        let flag = InterruptionFlag()
        if checkpointDir != nil {
            let signalSource = SignalInterruptionSource(flag: flag, onRepeat: { signal in
                printNotice("interruption: \(SignalInterruptionSource.name(of: signal)) again: exiting now "
                            + "(checkpoints on disk are intact)")
                _exit(128 + signal)
            }, log: { printNotice($0) })
            try signalSource.install()
            signals = signalSource
            if spot {
                let spotFeed = try SpotNoticeFeed(endpoint: imdsEndpoint.flatMap(URL.init(string:)),
                                                  pollInterval: pollInterval ?? 5, flag: flag)
                printNotice("spot: watching \(spotFeed.endpoint.absoluteString) for interruption notices every "
                            + String(format: "%g s", pollInterval ?? 5))
                spotFeed.start()
                feed = spotFeed
            }
        }
        Threading.configure(threads: threads)
        let (trainSet, testSet) = try MNIST.load(from: data, trainLimit: trainLimit, testLimit: testLimit)

        let rng = RandomGenerator(seed: seed)
        let model = Models.mnistCNN(rng: rng)
        let optimizer = Adam(learningRate: learningRate)
        let trainer = Trainer(model: model, optimizer: optimizer, rng: rng)

        var callbacks: [Callback] = []
        if !quiet { callbacks.append(ProgressBar()) }
        if let metrics { callbacks.append(MetricsLogger(path: metrics)) }

        var runSeed = seed
        var resumed: ResumePoint?
        var checkpointer: ModelCheckpoint?
        var interruption: SpotInterruption?
        if let checkpointDir {
            let directory = CheckpointDirectory(path: checkpointDir)
            if fresh {
                try CheckpointArchive.moveAside(directory)
            } else if let point = try Resume.latest(from: directory, into: trainer, batchSize: batchSize,
                                                    trainingCount: trainSet.count) {
                resumed = point
                if point.seed != seed {
                    printNotice("using the checkpoint's seed \(point.seed) (not --seed \(seed)) so the run continues unchanged")
                }
                runSeed = point.seed
                printNotice("resuming from \(point.file.path) at epoch \(point.progress.epoch + 1), "
                            + "batch \(point.progress.stepInEpoch), global step \(point.progress.globalStep)")
            }
            let saver = ModelCheckpoint(directory: directory, everySteps: saveEverySteps,
                                        everySeconds: saveEverySeconds, keep: keep)
            // SpotInterruption drives the ModelCheckpoint (regular saves as before, plus the
            // emergency save); it is registered in its place.
            let handler = SpotInterruption(source: flag, checkpoint: saver, resumedCheckpoint: resumed?.file,
                                           log: { printNotice($0) })
            callbacks.append(handler)
            checkpointer = saver
            interruption = handler
        }

        let context = try trainer.fit(train: trainSet, validation: testSet, epochs: epochs, batchSize: batchSize,
                                      seed: runSeed, maxSteps: maxSteps, callbacks: callbacks,
                                      resumeFrom: resumed?.progress)

        feed?.stop()
        let report = context.status == .interrupted ? interruption?.report : nil

        // Test metrics of the final weights: the last epoch's validation pass if nothing was
        // trained after it, else a fresh evaluation (skipped after an interruption: the
        // machine is going away, and the time is better spent exiting).
        let test: (loss: Double, accuracy: Double)?
        if context.stepInEpoch == 0, let last = context.progress.history.last,
           let loss = last["val_loss"], let accuracy = last["val_accuracy"] {
            test = (loss, accuracy)
        } else if report != nil {
            test = nil
        } else {
            let e = trainer.evaluate(testSet)
            test = (e.loss, e.accuracy)
        }
        let progress = context.progress
        var result = RunSummary(
            status: context.status.rawValue,
            epochsCompleted: progress.history.count,
            globalStep: progress.globalStep,
            testAccuracy: test?.accuracy,
            testLoss: test?.loss,
            trainLoss: context.logs["loss"],
            samplesPerSecond: progress.trainingSeconds > 0 ? Double(progress.trainingSamples) / progress.trainingSeconds : 0,
            wallSeconds: start.duration(to: clock.now).seconds,
            weightsSHA256: SHA256.hash(data: model.parameterFingerprintBytes()).map { String(format: "%02x", $0) }.joined(),
            seed: runSeed,
            threads: Threading.threads,
            history: progress.history,
            resumedFrom: resumed?.file.path,
            resumedStep: resumed?.progress.globalStep,
            checkpoint: report.map { $0.checkpoint?.path } ?? checkpointer?.lastSaved?.path,
            checkpointsSaved: checkpointer?.saveCount ?? 0,
            checkpointSaveSeconds: checkpointer?.totalSaveSeconds ?? 0)
        if !quiet, let test {
            printNotice("\(result.status) at step \(result.globalStep): "
                        + String(format: "test accuracy %.4f, test loss %.4f, %.0f samples/s",
                                 test.accuracy, test.loss, result.samplesPerSecond))
        }
        guard let report else {
            if let summary { try result.write(to: summary) }
            return
        }
        let details = InterruptionSummary(report, exitAt: Date())
        result.interruption = details
        if let summary { try result.write(to: summary) }
        let timing = String(format: "%.3f s from notice to exit (checkpoint %.3f s)",
                            details.noticeToExitSeconds, details.checkpointSeconds)
        if report.checkpointIsCurrent {
            printNotice("interrupted at step \(report.globalStep) by \(report.request.kind.rawValue) (\(report.request.reason)); "
                        + "checkpoint \(report.checkpoint?.path ?? "?"); \(timing); exit \(ExitStatus.interrupted): restart to continue")
            throw ExitCode(ExitStatus.interrupted)
        }
        printError("interrupted at step \(report.globalStep) by \(report.request.kind.rawValue) (\(report.request.reason)) "
                   + "WITHOUT a checkpoint of this step (\(report.outcomeName)); a restart resumes from "
                   + (report.checkpoint.map { "\($0.path) (step \($0.globalStep))" } ?? "scratch") + "; \(timing)")
        throw ExitCode(ExitStatus.failure)
    }
}
