import ArgumentParser
import Crypto
import Foundation
import SpotTrain
import SpotTrainS3

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
        triggers an early checkpoint. The checkpoint is written even when the deadline has
        passed or is close (with a warning): a save is atomic, so the previous checkpoint stays
        intact if the machine goes away first. If the emergency save fails, the previous
        checkpoint is kept and the run exits 1.

        Resuming: --learning-rate given with a checkpoint replaces the checkpoint's value (with
        a notice); --batch-size, --seed and --train-limit, which decide the data order, must
        match the checkpoint (exit 64 otherwise, unless --fresh); flags not given take the
        checkpoint's values.

        Exit codes: 0 done; 75 interrupted after writing a checkpoint of the step it stopped
        at (restart to continue, nothing lost); 1 runtime error that a restart may fix,
        including a final save or an emergency save that failed (a restart resumes from the
        previous checkpoint) or another process holding --checkpoint-dir's lock; 64 usage
        error, including a path flag naming something of the wrong kind (a FIFO, a directory
        for a file, …); 78 configuration no restart can fix (bad or empty data files, a
        checkpoint of another model or batch size, a diverged run). See Docs/Training.md.

        S3 store: --checkpoint-mirror s3://BUCKET/PREFIX uploads every checkpoint (off the
        training thread; only the newest pending one if saves outpace the network), and a
        resume takes the newest valid checkpoint of the directory and the bucket together.
        --checkpoint-dir s3://BUCKET/PREFIX alone keeps the local side in a cache directory.
        The store is checked before training: a refusal (wrong secret, no such bucket, access
        denied) exits 78 naming the AWS error code. A run that exits 0 has its last checkpoint
        in the bucket; an emergency save waits for its upload until 5 s before the notice's
        deadline (30 s after a signal). Credentials and region come from the AWS CLI's chain
        and variables (AWS_ENDPOINT_URL_S3, AWS_REGION, AWS_PROFILE, …). See
        Docs/Checkpoints.md.
        """
    )

    @Option(help: "Directory with the MNIST IDX files (train-images-idx3-ubyte[.gz], …).")
    var data: String

    @Option(help: "Total number of epochs.")
    var epochs: Int = 12

    // Optional, so that a resume knows whether they were given (see `reconcile`).
    @Option(name: .customLong("batch-size"), help: "Examples per training step (default 128, or the checkpoint's).")
    var batchSize: Int?

    @Option(name: .customLong("learning-rate"), help: "Adam learning rate (default 0.001, or the checkpoint's).")
    var learningRate: Double?

    @Option(help: "Seed for initial weights, shuffling and dropout (default 1, or the checkpoint's).")
    var seed: UInt64?

    @Option(help: "Threads for SpotTrain's kernels (default: all cores). Results are bit-identical for any value.")
    var threads: Int?

    @Option(name: .customLong("max-steps"), help: "Stop after this global step.")
    var maxSteps: Int?

    @Option(name: .customLong("train-limit"), help: "Use only the first N training examples.")
    var trainLimit: Int?

    @Option(name: .customLong("test-limit"), help: "Use only the first N test examples (0: no test set, test metrics null).")
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

    @Option(help: "Keep only the newest K checkpoints (in the S3 store too).")
    var keep: Int?

    @Option(name: .customLong("checkpoint-mirror"),
            help: "Also upload every checkpoint to s3://BUCKET/PREFIX, and resume from there too (needs --checkpoint-dir).")
    var checkpointMirror: String?

    @Option(name: .customLong("cache-dir"),
            help: "With --checkpoint-dir s3://…: the local cache root (default $SPOTTRAIN_CACHE_DIR, else ~/.cache/spottrain).")
    var cacheDir: String?

    @Option(help: "AWS region of the S3 store (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's, else IMDS).")
    var region: String?

    @Option(help: "Shared-config profile for the S3 store (default: AWS_PROFILE, else 'default').")
    var profile: String?

    @Option(name: .customLong("s3-endpoint"),
            help: "S3 endpoint URL (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, the profile's, else AWS's).")
    var s3Endpoint: String?

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
        if let batchSize, !(1...TrainCommand.maximumBatchSize).contains(batchSize) {
            throw ValidationError("--batch-size must be in 1...\(TrainCommand.maximumBatchSize)")
        }
        if let learningRate, !(learningRate > 0 && Float(learningRate).isFinite) {
            throw ValidationError("--learning-rate must be positive and finite")
        }
        if let threads, !(1...TrainCommand.maximumThreads).contains(threads) {
            throw ValidationError("--threads must be in 1...\(TrainCommand.maximumThreads)")
        }
        if let maxSteps, maxSteps < 0 { throw ValidationError("--max-steps must not be negative") }
        if let trainLimit, trainLimit < 1 { throw ValidationError("--train-limit must be at least 1") }
        if let testLimit, testLimit < 0 { throw ValidationError("--test-limit must not be negative") }
        if let saveEverySteps, saveEverySteps < 1 { throw ValidationError("--save-every-steps must be at least 1") }
        if let saveEverySeconds, !(saveEverySeconds > 0) { throw ValidationError("--save-every-seconds must be positive") }
        if let keep, keep < 1 { throw ValidationError("--keep must be at least 1") }
        if checkpointDir == nil && (saveEverySteps != nil || saveEverySeconds != nil || keep != nil || fresh) {
            throw ValidationError("--save-every-steps, --save-every-seconds, --keep and --fresh need --checkpoint-dir")
        }
        if checkpointMirror != nil {
            guard let checkpointDir else {
                throw ValidationError("--checkpoint-mirror needs --checkpoint-dir (the local directory checkpoints are written to first)")
            }
            guard !Self.isS3URL(checkpointDir) else {
                throw ValidationError("--checkpoint-mirror needs a local --checkpoint-dir; with --checkpoint-dir s3://… drop --checkpoint-mirror")
            }
        }
        if let url = storeURL {
            guard Self.isS3URL(url) else {
                throw ValidationError("--checkpoint-mirror must be an s3://BUCKET/PREFIX URL, got '\(url)'")
            }
            do {
                _ = try S3CheckpointStore.parse(url)
            } catch {
                throw ValidationError("\(error)")
            }
        } else if region != nil || profile != nil || s3Endpoint != nil {
            throw ValidationError("--region, --profile and --s3-endpoint need an S3 store (--checkpoint-mirror or --checkpoint-dir s3://…)")
        }
        if cacheDir != nil, !(checkpointDir.map(Self.isS3URL) ?? false) {
            throw ValidationError("--cache-dir needs --checkpoint-dir s3://BUCKET/PREFIX")
        }
        if let s3Endpoint {
            guard let url = URL(string: s3Endpoint), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
                  url.host != nil else {
                throw ValidationError("--s3-endpoint must be an http:// or https:// URL with a host, got '\(s3Endpoint)'")
            }
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
        try reportingErrors(status: TrainCommand.exitStatus(for:)) { try train() }
    }

    /// The largest `--batch-size`: a batch buffer of this many MNIST images is 200 MB.
    static let maximumBatchSize = 65_536
    /// The largest `--threads`.
    static let maximumThreads = 1024

    private func train() throws {
        let clock = ContinuousClock()
        let start = clock.now
        try checkPaths()
        let localDir = try localCheckpointDirectory()
        let directoryLock = try localDir.map { try CheckpointDirectory(path: $0).lock() }
        defer { directoryLock?.release() }
        // Store work (listing, downloads, uploads) runs on its own thread; see CheckpointMirror.
        let storeThread = storeURL.map { _ in CheckpointStoreThread() }
        var mirror: CheckpointMirror?
        defer {
            mirror?.stop()
            storeThread?.shutdown()
        }
        var signals: SignalInterruptionSource?
        var feed: SpotNoticeFeed?
        defer {
            feed?.stop()
            signals?.uninstall()
        }
        // Handle signals and notices from the start: one arriving while the data and the
        // checkpoint load is acted on before the first batch.
        let flag = InterruptionFlag()
        if localDir != nil {
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
        // The store is checked before the data loads: a refusal costs nothing.
        let store = try storeURL.map { try openStore($0, thread: storeThread!) }
        if let store {
            printNotice("checkpoint store: \(store.location) (checked: credentials, bucket, a test write)")
        }
        var (trainSet, testSet) = try MNIST.load(from: data, trainLimit: trainLimit, testLimit: testLimit)
        guard trainSet.count > 0 else {
            throw TrainingError(.emptyTrainingSet, "\(data): the training files hold no examples; there is nothing to train on")
        }

        let rng = RandomGenerator(seed: seed ?? 1)
        let model = Models.mnistCNN(rng: rng)
        let optimizer = Adam(learningRate: learningRate ?? 0.001)
        let trainer = Trainer(model: model, optimizer: optimizer, rng: rng)

        var callbacks: [Callback] = []
        if !quiet { callbacks.append(ProgressBar()) }
        if let metrics { callbacks.append(MetricsLogger(path: metrics)) }

        var runSeed = seed ?? 1
        var runBatchSize = batchSize ?? 128
        var resumed: ResumePoint?
        var checkpointer: ModelCheckpoint?
        var interruption: SpotInterruption?
        if let localDir {
            let directory = CheckpointDirectory(path: localDir)
            if let store, let storeThread {
                mirror = CheckpointMirror(store: store, directory: directory, keep: keep, thread: storeThread,
                                          log: { printNotice($0) })
            }
            if fresh {
                try CheckpointArchive.moveAside(directory)
                if let store, let storeThread { try setAsideStore(store, thread: storeThread) }
            } else if let point = try resume(directory, store: store, thread: storeThread, trainer: trainer) {
                resumed = point
                (runBatchSize, runSeed) = try reconcile(with: point, trainer: trainer, trainSet: &trainSet)
                printNotice("resuming from \(point.source) at epoch \(point.progress.epoch + 1), "
                            + "batch \(point.progress.stepInEpoch), global step \(point.progress.globalStep)")
                if let store, let mirror, let storeThread {
                    uploadIfMissing(point, store: store, mirror: mirror, thread: storeThread)
                }
            }
            let saver = ModelCheckpoint(directory: directory, everySteps: saveEverySteps,
                                        everySeconds: saveEverySeconds, keep: keep, mirror: mirror)
            // SpotInterruption drives the ModelCheckpoint (regular saves as before, plus the
            // emergency save); it is registered in its place.
            let handler = SpotInterruption(source: flag, checkpoint: saver, resumedCheckpoint: resumed?.file,
                                           log: { printNotice($0) })
            callbacks.append(handler)
            checkpointer = saver
            interruption = handler
        }

        let context = try trainer.fit(train: trainSet, validation: testSet, epochs: epochs, batchSize: runBatchSize,
                                      seed: runSeed, maxSteps: maxSteps, callbacks: callbacks,
                                      resumeFrom: resumed?.progress)

        feed?.stop()
        let report = context.status == .interrupted ? interruption?.report : nil

        // Test metrics of the final weights: the last epoch's validation pass if nothing was
        // trained after it, else a fresh evaluation (skipped after an interruption: the
        // machine is going away, and the time is better spent exiting). None without a test
        // set or after divergence: no invented values.
        let diverged = context.status == .diverged
        let test: (loss: Double, accuracy: Double)?
        if testSet.count == 0 || diverged {
            test = nil
        } else if context.stepInEpoch == 0, let last = context.progress.history.last,
           let loss = last["val_loss"], let accuracy = last["val_accuracy"] {
            test = (loss, accuracy)
        } else if report != nil {
            test = nil
        } else {
            let e = trainer.evaluate(testSet)
            test = (e.loss, e.accuracy)
        }
        // The last save before the end (or the emergency save of an interruption) failed:
        // the newest state is not on disk, so the run is not reported as done.
        let saveFailed: Bool
        if let report {
            if case .saveFailed = report.outcome { saveFailed = true } else { saveFailed = false }
        } else {
            saveFailed = !diverged && checkpointer?.lastSaveFailed == true
        }
        // With a store, a run is only done when its newest checkpoint is in the bucket.
        let upload = report == nil ? checkpointer.flatMap { finalUpload($0, resumed: resumed, mirror: mirror) } : nil
        var uploadFailed = false
        if let upload, !diverged, !saveFailed {
            if case .uploaded = upload {} else { uploadFailed = true }
        }
        let newestGood = checkpointer?.lastSaved ?? resumed?.file
        let progress = context.progress
        var result = RunSummary(
            status: saveFailed ? RunSummary.saveFailedStatus
                : uploadFailed ? RunSummary.uploadFailedStatus : context.status.rawValue,
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
            resumedFrom: resumed?.source,
            resumedStep: resumed?.progress.globalStep,
            checkpoint: report.map { $0.checkpoint?.path } ?? newestGood?.path,
            checkpointsSaved: checkpointer?.saveCount ?? 0,
            checkpointSaveSeconds: checkpointer?.totalSaveSeconds ?? 0,
            checkpointFailures: checkpointer?.failureCount ?? 0,
            stopReason: context.stopReason,
            checkpointStore: store?.location,
            uploads: mirror?.statistics.uploads ?? 0,
            uploadFailures: mirror?.statistics.failures ?? 0,
            checkpointUploaded: mirror?.statistics.lastUploaded?.location)
        if !quiet, let test {
            printNotice("\(result.status) at step \(result.globalStep): "
                        + String(format: "test accuracy %.4f, test loss %.4f, %.0f samples/s",
                                 test.accuracy, test.loss, result.samplesPerSecond))
        }
        if diverged {
            if let summary { try result.write(to: summary) }
            printError("training diverged: \(context.stopReason ?? "a non-finite loss"); no checkpoint of the diverged state "
                       + "was written; the newest good checkpoint is "
                       + (newestGood.map { "\($0.path) (step \($0.globalStep))" } ?? "none")
                       + "; a restart would diverge again (resuming is exact): change the run (for example a smaller "
                       + "--learning-rate) or pass --fresh; exit \(ExitStatus.configuration)")
            throw ExitCode(ExitStatus.configuration)
        }
        guard let report else {
            if let summary { try result.write(to: summary) }
            if saveFailed {
                printError("the last checkpoint save failed (\(result.checkpointFailures) failed saves in this run): the state at "
                           + "step \(progress.globalStep) is not on disk; the newest good checkpoint is "
                           + (newestGood.map { "\($0.path) (step \($0.globalStep))" } ?? "none")
                           + ", which a restart resumes from; exit \(ExitStatus.failure)")
                throw ExitCode(ExitStatus.failure)
            }
            if uploadFailed, let upload {
                printError("the last checkpoint \(newestGood?.path ?? "?") (step \(progress.globalStep)) is on disk but NOT in "
                           + "\(store?.location ?? "the store"): \(CheckpointMirror.describe(upload)); a restart on this disk "
                           + "uploads it and continues; on another machine it would resume from an older checkpoint; exit \(ExitStatus.failure)")
                throw ExitCode(ExitStatus.failure)
            }
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
