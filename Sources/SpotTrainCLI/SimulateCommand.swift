import ArgumentParser
import Foundation
import SpotTrain

/// `spottrain simulate`: spot economics measured on a real (short) training run.
struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Measure what interruptions cost: real training under a schedule of simulated interruptions.",
        discussion: """
        For every --save-every-steps value, runs `spottrain train` once without interruptions
        (the reference), then for every schedule runs it again from scratch, interrupting the
        child process at the scheduled moments (SIGTERM, as a spot notice would; or SIGKILL
        with --kill, a hard crash) and restarting it until it finishes. Reports interruptions
        survived, steps trained more than once (lost work), emergency save time, time to
        resume (process start to checkpoint loaded), total wall time against the reference,
        and whether the final weights match the reference bit for bit.

        Schedules: --interrupt-at gives fixed moments (seconds since the session started);
        --mtbi gives mean times between interruptions of a Poisson process (one row each).
        Children are this executable (/proc/self/exe), with checkpoints in a temporary directory.
        """
    )

    @Option(help: "Directory with the MNIST IDX files.")
    var data: String

    @Option(name: .customLong("train-limit"), help: "Training examples.")
    var trainLimit: Int = 1280

    @Option(name: .customLong("test-limit"), help: "Test examples (evaluated after every epoch).")
    var testLimit: Int = 100

    @Option(name: .customLong("batch-size"), help: "Examples per step.")
    var batchSize: Int = 64

    @Option(help: "Epochs.")
    var epochs: Int = 2

    @Option(name: .customLong("max-steps"), help: "Stop after this global step.")
    var maxSteps: Int?

    @Option(help: "Training seed.")
    var seed: UInt64 = 1

    @Option(help: "Threads per training process.")
    var threads: Int = 2

    @Option(name: .customLong("save-every-steps"), parsing: .singleValue,
            help: "Checkpoint interval(s) in steps, comma-separated (one set of rows each).")
    var saveEverySteps: [String] = ["10"]

    @Option(name: .customLong("interrupt-at"), help: "Fixed interruption moments in seconds since the session started, comma-separated.")
    var interruptAt: String?

    @Option(name: .customLong("mtbi"), help: "Mean time between interruptions in seconds (Poisson), comma-separated for several rows.")
    var meanTimeBetweenInterruptions: String?

    @Option(name: .customLong("interrupt-seed"), help: "Seed of the Poisson schedules.")
    var interruptSeed: UInt64 = 42

    @Option(name: .customLong("max-interruptions"), help: "Stop interrupting after this many (so every session finishes).")
    var maxInterruptions: Int = 25

    @Flag(help: "Interrupt with SIGKILL (a crash, no emergency checkpoint) instead of SIGTERM.")
    var kill = false

    @Flag(help: "Print the results as JSON on standard output instead of a table.")
    var json = false

    enum Schedule: CustomStringConvertible {
        case fixed([Double])
        case poisson(mean: Double)

        var description: String {
            switch self {
            case .fixed(let times): "at " + times.map { String(format: "%g", $0) }.joined(separator: ",") + " s"
            case .poisson(let mean): String(format: "mtbi %g s", mean)
            }
        }
    }

    func validate() throws {
        guard trainLimit > 0, testLimit > 0, batchSize > 0, epochs > 0, threads > 0, maxInterruptions >= 0 else {
            throw ValidationError("--train-limit, --test-limit, --batch-size, --epochs and --threads must be positive")
        }
        if let maxSteps, maxSteps < 1 { throw ValidationError("--max-steps must be at least 1") }
        _ = try intervals()
        guard try !schedules().isEmpty else { throw ValidationError("give --interrupt-at or --mtbi") }
    }

    func intervals() throws -> [Int] {
        let values = saveEverySteps.flatMap { $0.split(separator: ",") }.map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else {
            throw ValidationError("--save-every-steps takes positive integers, comma-separated")
        }
        return values.map { $0! }
    }

    func schedules() throws -> [Schedule] {
        func numbers(_ text: String, _ name: String) throws -> [Double] {
            let values = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard !values.isEmpty, values.allSatisfy({ ($0 ?? -1) > 0 && $0!.isFinite }) else {
                throw ValidationError("\(name) takes positive numbers of seconds, comma-separated")
            }
            return values.map { $0! }
        }
        var result: [Schedule] = []
        if let interruptAt { result.append(.fixed(try numbers(interruptAt, "--interrupt-at").sorted())) }
        if let meanTimeBetweenInterruptions {
            result += try numbers(meanTimeBetweenInterruptions, "--mtbi").map { .poisson(mean: $0) }
        }
        return result
    }

    func run() throws {
        try PathArguments.require(data, is: .inputDirectory, for: "--data")
        try reportingErrors {
            let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
            let root = FileManager.default.temporaryDirectory.appendingPathComponent("spottrain-simulate-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: root) }
            var simulator = SpotSimulator(executable: executable, root: root, trainArguments: trainArguments(),
                                          maxInterruptions: maxInterruptions, hardKill: kill)
            var rows: [SpotSimulator.Row] = []
            for interval in try intervals() {
                let reference = try simulator.reference(saveEverySteps: interval)
                if !json { printNotice("reference (save every \(interval) steps): \(reference.describe())") }
                for schedule in try schedules() {
                    let times = plannedTimes(schedule, horizon: reference.wallSeconds * 20)
                    let row = try simulator.session(saveEverySteps: interval, schedule: schedule.description,
                                                    times: times, reference: reference)
                    if !json { printNotice("done: \(row.schedule), save every \(interval): \(row.interruptions) interruptions") }
                    rows.append(row)
                }
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(rows), as: UTF8.self))
            } else {
                print(SpotSimulator.table(rows, signal: kill ? "SIGKILL" : "SIGTERM"))
            }
        }
    }

    private func trainArguments() -> [String] {
        var args = ["train", "--data", data, "--train-limit", "\(trainLimit)", "--test-limit", "\(testLimit)",
                    "--batch-size", "\(batchSize)", "--epochs", "\(epochs)", "--seed", "\(seed)",
                    "--threads", "\(threads)", "--quiet"]
        if let maxSteps { args += ["--max-steps", "\(maxSteps)"] }
        return args
    }

    /// The moments (seconds since the session started) of a schedule, up to `horizon`.
    private func plannedTimes(_ schedule: Schedule, horizon: Double) -> [Double] {
        switch schedule {
        case .fixed(let times):
            return Array(times.prefix(maxInterruptions))
        case .poisson(let mean):
            let rng = RandomGenerator(seed: interruptSeed)
            var times: [Double] = []
            var t = 0.0
            while times.count < maxInterruptions {
                // Exponential gaps: -mean · ln(U), U uniform in (0, 1].
                let u = 1.0 - Double(rng.next() >> 11) * 0x1p-53
                t += -mean * log(max(u, 1e-12))
                if t > horizon { break }
                times.append(t)
            }
            return times
        }
    }
}
