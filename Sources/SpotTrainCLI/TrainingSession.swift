import Foundation
import SpotTrain
import SpotTrainS3

/// One training run of the MNIST CNN, as `spottrain train` and `spottrain job run` both do
/// it: the options are those of `train` (a parsed ``TrainCommand``), the steps are taken in
/// this order by ``run()``:
///
/// 1. ``prepare()``: path checks, the checkpoint directory's lock, signal and spot-notice
///    handling (from the start, so a notice during loading is acted on before the first
///    batch), threads, and the S3 store checked before anything is loaded;
/// 2. ``loadData()``: the IDX files (from `--data DIR`, or downloaded once from
///    `--data s3://BUCKET/PREFIX` into the data cache);
/// 3. ``buildTrainer()``: model, optimizer, callbacks;
/// 4. ``openCheckpoints()``: the mirror, `--fresh` or the resume, the checkpoint and
///    interruption callbacks;
/// 5. ``fit()``;
/// 6. ``finish(_:)`` (`TrainingSession+Ending.swift`): the final upload, the summary, and
///    the ``Ending`` (exit status and reason).
///
/// With a ``DataParallelGroup`` (`spottrain-mpi train`), every rank runs a session: the
/// trainer sums gradients over the ranks, rank 0 alone prints, writes and picks the resume
/// point (``shareResumePoint(_:_:trainer:)``), and stops are agreed (``StopAgreement``).
///
/// A session is used once, on the thread that runs the training loop.
package final class TrainingSession {
    /// How a session ended: the exit status `spottrain train` exits with (0, 1, 75, 78; 64
    /// and errors before training are thrown instead), the summary when one was made, and
    /// the error line printed for a non-zero status.
    package struct Ending {
        /// The exit status (see ``ExitStatus``).
        package var status: Int32
        /// The summary `--summary` was written with, when training ran.
        var summary: RunSummary?
        /// Why the run did not finish (the message printed), nil for status 0.
        package var reason: String?
    }

    /// The options, as `spottrain train` parsed and validated them.
    let options: TrainCommand
    let clock = ContinuousClock()
    let start: ContinuousClock.Instant
    var localDir: String?
    var directoryLock: CheckpointDirectoryLock?
    var storeThread: CheckpointStoreThread?
    var mirror: CheckpointMirror?
    var signals: SignalInterruptionSource?
    var feed: SpotNoticeFeed?
    let flag = InterruptionFlag()
    var store: S3CheckpointStore?
    var dataDirectory: String
    var trainSet: Dataset?
    var testSet: Dataset?
    var model: Sequential?
    var trainer: Trainer?
    var callbacks: [Callback] = []
    var runSeed: UInt64
    var runBatchSize: Int
    var resumed: ResumePoint?
    var checkpointer: ModelCheckpoint?
    var interruption: SpotInterruption?
    /// The ranks of a data-parallel run, nil for one process.
    let group: (any DataParallelGroup)?
    /// The interruptions all ranks agreed on, with a group (else ``flag``).
    var agreedInterruptions: (any InterruptionSource)?

    /// Creates a session; nothing happens until ``run()``.
    /// - Parameters:
    ///   - options: The parsed `train` options.
    ///   - group: The ranks of a data-parallel run (`spottrain-mpi train`), nil for one process.
    package init(options: TrainCommand, group: (any DataParallelGroup)? = nil) {
        self.options = options
        self.group = group
        start = ContinuousClock.now
        dataDirectory = options.data
        runSeed = options.seed ?? 1
        runBatchSize = options.batchSize ?? 128
    }

    deinit {
        release()
    }

    /// Stops the feed, the signal handlers, the mirror and the store thread, and releases the
    /// directory lock (idempotent).
    func release() {
        feed?.stop()
        signals?.uninstall()
        mirror?.stop()
        storeThread?.shutdown()
        directoryLock?.release()
        feed = nil
        signals = nil
        mirror = nil
        storeThread = nil
        directoryLock = nil
    }

    /// Takes every step in order.
    /// - Returns: How the run ended (after training: 0, 1, 75 or 78).
    /// - Throws: What a step before or around training throws (see
    ///   ``TrainCommand/exitStatus(for:)``), `ExitCode(64)` for a path of the wrong kind,
    ///   ``UsageError`` for a flag that contradicts the checkpoint.
    package func run() throws -> Ending {
        defer { release() }
        try prepare()
        try loadData()
        buildTrainer()
        try openCheckpoints()
        let context = try fit()
        return try finish(context)
    }

    /// Checks paths, takes the checkpoint directory's lock, installs signal and spot-notice
    /// handling, sets the kernel threads and checks the S3 store.
    func prepare() throws {
        try options.checkPaths()
        localDir = try options.localCheckpointDirectory()
        // With a group, only rank 0 touches the checkpoint directory and the store.
        if isRoot {
            directoryLock = try localDir.map { try CheckpointDirectory(path: $0).lock() }
            // Store work (listing, downloads, uploads) runs on its own thread; see CheckpointMirror.
            storeThread = options.storeURL.map { _ in CheckpointStoreThread() }
        }
        // Handle signals and notices from the start: one arriving while the data and the
        // checkpoint load is acted on before the first batch.
        if localDir != nil {
            let signalSource = SignalInterruptionSource(flag: flag, onRepeat: { signal in
                printNotice("interruption: \(SignalInterruptionSource.name(of: signal)) again: exiting now "
                            + "(checkpoints on disk are intact)")
                _exit(128 + signal)
            })
            try signalSource.install()
            signals = signalSource
            if options.spot {
                let spotFeed = try SpotNoticeFeed(endpoint: options.imdsEndpoint.flatMap(URL.init(string:)),
                                                  pollInterval: options.pollInterval ?? 5, flag: flag)
                printNotice("spot: watching \(spotFeed.endpoint.absoluteString) for interruption notices every "
                            + String(format: "%g s", options.pollInterval ?? 5))
                spotFeed.start()
                feed = spotFeed
            }
        }
        Threading.configure(threads: options.threads)
        // The store is checked before the data loads: a refusal costs nothing.
        if let url = options.storeURL, let storeThread {
            let opened = try options.openStore(url, thread: storeThread)
            printNotice("checkpoint store: \(opened.location) (checked: credentials, bucket, a test write)")
            store = opened
        }
    }

    /// Loads the training and test sets: from `--data DIR`, or from the data cache after
    /// downloading what it lacks from `--data s3://BUCKET/PREFIX`.
    /// - Throws: ``MNISTError``/``IDXError`` for bad files, ``S3DataError`` for a download
    ///   that failed, ``TrainingError`` for an empty training set.
    func loadData() throws {
        if TrainCommand.isS3URL(options.data) {
            dataDirectory = try options.fetchS3Data()
        }
        let (train, test) = try MNIST.load(from: dataDirectory, trainLimit: options.trainLimit, testLimit: options.testLimit)
        trainSet = train
        testSet = test
        guard train.count > 0 else {
            throw TrainingError(.emptyTrainingSet, "\(options.data): the training files hold no examples; there is nothing to train on")
        }
    }

    /// Builds the model (seeded), Adam and the trainer, with the progress bar and metrics log.
    func buildTrainer() {
        let rng = RandomGenerator(seed: options.seed ?? 1)
        let model = Models.mnistCNN(rng: rng)
        let optimizer = Adam(learningRate: options.learningRate ?? 0.001)
        self.model = model
        let trainer = Trainer(model: model, optimizer: optimizer, rng: rng)
        self.trainer = trainer
        if let group {
            let parts = group.makeReducer(localInterruptions: flag)
            trainer.gradientReducer = parts.reducer
            agreedInterruptions = parts.interruptions
            if !isRoot { callbacks.append(parts.follower) }
        }
        guard isRoot else { return }
        if !options.quiet { callbacks.append(ProgressBar()) }
        if let metrics = options.metrics { callbacks.append(MetricsLogger(path: metrics)) }
    }

    /// With a checkpoint directory: starts the mirror to the store, moves old checkpoints
    /// aside (`--fresh`) or resumes from the newest valid one, and registers the checkpoint
    /// callback behind the interruption handler.
    /// - Throws: ``CheckpointError``, ``CheckpointStoreError``, ``UsageError`` (a flag that
    ///   contradicts the checkpoint), ``MNISTError`` (the data changed).
    func openCheckpoints() throws {
        guard let localDir, let trainer, var train = trainSet else { return }
        guard isRoot else {
            // The others restore what rank 0 resumes from (below), and write nothing.
            if let group, let point = try shareResumePoint(group, nil, trainer: trainer) {
                resumed = point
                (runBatchSize, runSeed) = try options.reconcile(with: point, trainer: trainer, trainSet: &train)
                trainSet = train
            }
            return
        }
        let directory = CheckpointDirectory(path: localDir)
        if let store, let storeThread {
            let opened = CheckpointMirror(store: store, directory: directory, keep: options.keep, thread: storeThread)
            mirror = opened
        }
        if options.fresh {
            try CheckpointArchive.moveAside(directory)
            if let store, let storeThread { try options.setAsideStore(store, thread: storeThread) }
        }
        var point = options.fresh ? nil : try options.resume(directory, store: store, thread: storeThread, trainer: trainer)
        if let group { point = try shareResumePoint(group, point, trainer: trainer) }
        if let point {
            resumed = point
            (runBatchSize, runSeed) = try options.reconcile(with: point, trainer: trainer, trainSet: &train)
            trainSet = train
            printNotice("resuming from \(point.source) at epoch \(point.progress.epoch + 1), "
                        + "batch \(point.progress.stepInEpoch), global step \(point.progress.globalStep)")
            if let store, let mirror, let storeThread {
                options.uploadIfMissing(point, store: store, mirror: mirror, thread: storeThread)
            }
        }
        let saver = ModelCheckpoint(directory: directory, everySteps: options.saveEverySteps,
                                    everySeconds: options.saveEverySeconds, keep: options.keep, mirror: mirror)
        // SpotInterruption drives the ModelCheckpoint (regular saves as before, plus the
        // emergency save); it is registered in its place.
        let handler = SpotInterruption(source: agreedInterruptions ?? flag, checkpoint: saver, resumedCheckpoint: resumed?.file)
        callbacks.append(handler)
        checkpointer = saver
        interruption = handler
    }

    /// Trains, from the resume point if there is one, and stops the notice feed.
    /// - Returns: The training context at the end.
    /// - Throws: What a callback throws.
    func fit() throws -> TrainingContext {
        guard let trainer, let trainSet, let testSet else { preconditionFailure("TrainingSession.fit before loadData and buildTrainer") }
        // With a group: only rank 0 validates (it alone reports), and a stop is agreed last.
        let agreement: [Callback] = group.map { [StopAgreement(group: $0)] } ?? []
        let context = try trainer.fit(train: trainSet, validation: isRoot ? testSet : nil, epochs: options.epochs,
                                      batchSize: runBatchSize, seed: runSeed, maxSteps: options.maxSteps,
                                      callbacks: callbacks + agreement,
                                      resumeFrom: resumed?.progress)
        feed?.stop()
        return context
    }
}
