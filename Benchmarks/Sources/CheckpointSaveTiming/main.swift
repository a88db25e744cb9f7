// Times what `ModelCheckpoint` does at an epoch end (capture the training state, encode,
// write a temporary file, fsync, rename, fsync the directory) on the state of a real run:
// it restores a checkpoint written by `spottrain train --checkpoint-dir` into a fresh
// mnist_cnn + Adam, then saves it `repeats` times into a scratch directory next to the
// checkpoint (same file system), and prints one `key=value` line.
//
// `spottrain train` does not report its own save times, so the comparison script uses this.
//
//   swift run -c release checkpoint-save-timing CHECKPOINT [repeats=5] [threads]
import Foundation
import SpotTrain

let arguments = CommandLine.arguments.dropFirst()
guard let path = arguments.first else {
    FileHandle.standardError.write("usage: checkpoint-save-timing CHECKPOINT [repeats=5] [threads]\n".data(using: .utf8)!)
    exit(64)
}
let repeats = arguments.count > 1 ? max(1, Int(arguments[arguments.startIndex + 1]) ?? 5) : 5
if arguments.count > 2, let threads = Int(arguments[arguments.startIndex + 2]) { Threading.configure(threads: threads) }

do {
    let clock = ContinuousClock()
    let t0 = clock.now
    let checkpoint = try CheckpointReader().read(atPath: path)
    let loadSeconds = t0.duration(to: clock.now).seconds

    let rng = RandomGenerator(seed: 0)
    let trainer = Trainer(model: Models.mnistCNN(rng: rng), optimizer: Adam(), rng: rng)
    let progress = try TrainingState.restore(checkpoint, into: trainer, path: path)
    // restore() has checked that there is a training state.
    let state = checkpoint.metadata.trainingState
    let batchSize = state?.batchSize ?? 128
    let trainingCount = state?.trainingCount ?? 60_000

    let scratch = (path as NSString).deletingLastPathComponent + "/.save-timing-\(getpid())"
    defer { try? FileManager.default.removeItem(atPath: scratch) }
    let directory = CheckpointDirectory(path: scratch)
    var seconds: [Double] = []
    var bytes = 0
    for _ in 0..<repeats {
        let start = clock.now
        let saved = TrainingState.capture(trainer: trainer, progress: progress, seed: state?.seed ?? 0,
                                          batchSize: batchSize, trainingCount: trainingCount)
        let file = try directory.save(saved)
        seconds.append(start.duration(to: clock.now).seconds)
        bytes = (try FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) ?? 0
    }
    seconds.sort()
    print(String(format: "checkpoint_save repeats=%d save_ms_min=%.2f save_ms_median=%.2f save_ms_max=%.2f bytes=%d verified_load_ms=%.2f",
                 repeats, 1000 * seconds[0], 1000 * seconds[seconds.count / 2], 1000 * seconds[seconds.count - 1],
                 bytes, 1000 * loadSeconds))
} catch {
    FileHandle.standardError.write("checkpoint-save-timing: \(error)\n".data(using: .utf8)!)
    exit(1)
}
