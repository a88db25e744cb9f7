import ArgumentParser
import Crypto
import Foundation
import SpotTrain
import SpotTrainS3

/// `spottrain train`: trains the MNIST CNN (the Keras mnist_cnn) with Adam.
package struct TrainCommand: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train the MNIST CNN, with checkpoints that survive interruptions.",
        discussion: """
        Reads the four standard MNIST IDX files (raw or gzipped) from --data. Progress goes to
        standard error; --summary writes one JSON object when the run ends.

        --data s3://BUCKET/PREFIX downloads the four files once into --data-cache-dir (default
        the cache root followed by /data/s3/BUCKET/PREFIX), each checked (size, the prefix's
        SHA256SUMS when it has one, the IDX header) and written atomically; a later run reuses
        them. A missing object exits 78 naming the keys tried, a network failure 1.

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

    @Option(help: "Directory with the MNIST IDX files (train-images-idx3-ubyte[.gz], …), or s3://BUCKET/PREFIX holding them (downloaded once into --data-cache-dir).")
    var data: String

    @Option(name: .customLong("data-cache-dir"),
            help: "With --data s3://…: where the files are kept (default: the cache root, see --cache-dir, then /data/s3/BUCKET/PREFIX).")
    var dataCacheDir: String?

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
            help: "With --checkpoint-dir s3://… or --data s3://…: the local cache root (default $SPOTTRAIN_CACHE_DIR, else ~/.cache/spottrain).")
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

    /// Creates the options with their defaults (argument-parser fills them).
    package init() {}

    package func validate() throws {
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
        } else if (region != nil || profile != nil || s3Endpoint != nil) && !Self.isS3URL(data) {
            throw ValidationError("--region, --profile and --s3-endpoint need an S3 store (--checkpoint-mirror or --checkpoint-dir s3://…) or --data s3://…")
        }
        if Self.isS3URL(data) {
            do {
                _ = try S3CheckpointStore.parse(data)
            } catch {
                throw ValidationError("--data: \(error)")
            }
        } else if dataCacheDir != nil {
            throw ValidationError("--data-cache-dir needs --data s3://BUCKET/PREFIX")
        }
        if cacheDir != nil, !(checkpointDir.map(Self.isS3URL) ?? false), !Self.isS3URL(data) {
            throw ValidationError("--cache-dir needs --checkpoint-dir s3://BUCKET/PREFIX or --data s3://BUCKET/PREFIX")
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

    package func run() throws {
        try reportingErrors(status: TrainCommand.exitStatus(for:)) { try train() }
    }

    /// The largest `--batch-size`: a batch buffer of this many MNIST images is 200 MB.
    static let maximumBatchSize = 65_536
    /// The largest `--threads`.
    static let maximumThreads = 1024

    /// Runs one ``TrainingSession`` and exits with its status.
    private func train() throws {
        let ending = try TrainingSession(options: self).run()
        if ending.status != ExitStatus.success { throw ExitCode(ending.status) }
    }
}
