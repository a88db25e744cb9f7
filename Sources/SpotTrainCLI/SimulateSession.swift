import Foundation

/// Runs `spottrain train` children for ``SimulateCommand``: a reference run, then sessions
/// interrupted on a schedule and restarted until they finish.
struct SpotSimulator {
    /// One reference run.
    struct Reference {
        var wallSeconds: Double
        var globalStep: Int
        var weightsSHA256: String
        var secondsPerStep: Double

        func describe() -> String {
            String(format: "%d steps in %.1f s (%.3f s/step of training), weights %@…", globalStep, wallSeconds,
                   secondsPerStep, String(weightsSHA256.prefix(12)))
        }
    }

    /// The result of one interrupted session.
    struct Row: Encodable {
        var schedule: String
        var signal: String
        var saveEverySteps: Int
        var interruptions: Int
        var processes: Int
        var stepsRedone: Int
        var stepsRedoneEstimated: Bool
        var emergencySaveSeconds: Double
        var meanResumeSeconds: Double?
        var wallSeconds: Double
        var referenceWallSeconds: Double
        var overheadPercent: Double
        var finalStep: Int
        var weightsMatch: Bool

        enum CodingKeys: String, CodingKey {
            case schedule, signal, interruptions, processes
            case saveEverySteps = "save_every_steps"
            case stepsRedone = "steps_redone"
            case stepsRedoneEstimated = "steps_redone_estimated"
            case emergencySaveSeconds = "emergency_save_seconds"
            case meanResumeSeconds = "mean_resume_seconds"
            case wallSeconds = "wall_seconds"
            case referenceWallSeconds = "reference_wall_seconds"
            case overheadPercent = "overhead_percent"
            case finalStep = "final_step"
            case weightsMatch = "weights_match"
        }
    }

    /// What one child process did.
    private struct ChildRun {
        var status: Int32
        var signalled: Bool
        var summary: [String: Any]?
        /// Seconds from spawn to the "resuming from" line (checkpoint loaded), if it resumed.
        var resumeSeconds: Double?
        /// Seconds from spawn to the kill, and from spawn to the newest checkpoint it wrote.
        var killedAfter: Double?
        var lastCheckpointAfter: Double?
        var newestStepAtKill: Int?
        /// The newest checkpoint when it started (where it resumed).
        var startStep = 0
    }

    let executable: String
    let root: String
    let trainArguments: [String]
    let maxInterruptions: Int
    let hardKill: Bool
    private var counter = 0

    init(executable: String, root: String, trainArguments: [String], maxInterruptions: Int, hardKill: Bool) {
        self.executable = executable
        self.root = root
        self.trainArguments = trainArguments
        self.maxInterruptions = maxInterruptions
        self.hardKill = hardKill
    }

    /// Runs training once, without interruptions.
    mutating func reference(saveEverySteps: Int) throws -> Reference {
        counter += 1
        let dir = root + "/reference-\(counter)"
        let start = Date()
        let run = try runChild(dir: dir, saveEverySteps: saveEverySteps, summary: dir + ".json",
                               sessionStart: start, interruptAt: nil)
        guard run.status == 0, let summary = run.summary, let sha = summary["weights_sha256"] as? String,
              let step = summary["global_step"] as? Int, let sps = summary["samples_per_second"] as? Double, sps > 0 else {
            throw SimulationError("the reference run failed (exit \(run.status))")
        }
        let batch = Double(trainArguments.value(after: "--batch-size").flatMap(Int.init) ?? 64)
        return Reference(wallSeconds: Date().timeIntervalSince(start), globalStep: step, weightsSHA256: sha,
                         secondsPerStep: batch / sps)
    }

    /// Runs training from scratch, interrupting at `times` (seconds since the session
    /// started) and restarting until it finishes.
    mutating func session(saveEverySteps: Int, schedule: String, times: [Double], reference: Reference) throws -> Row {
        counter += 1
        let dir = root + "/session-\(counter)"
        let start = Date()
        var pending = times[...]
        var runs: [ChildRun] = []
        var interruptions = 0
        while true {
            let elapsed = Date().timeIntervalSince(start)
            // Moments that passed while no process ran hit the next one at once.
            let next = interruptions < maxInterruptions ? pending.first.map { max($0, elapsed) } : nil
            let run = try runChild(dir: dir, saveEverySteps: saveEverySteps, summary: dir + "-\(runs.count).json",
                                   sessionStart: start, interruptAt: next)
            runs.append(run)
            if run.killedAfter != nil && run.status != 0 {
                interruptions += 1
                pending = pending.dropFirst()
            }
            if run.status == 0 { break }
            guard run.status == 75 || run.signalled || run.killedAfter != nil else {
                throw SimulationError("a training process failed with exit \(run.status)")
            }
            guard runs.count < maxInterruptions + 20 else { throw SimulationError("too many restarts") }
        }
        let wall = Date().timeIntervalSince(start)
        let final = runs.last!.summary ?? [:]
        let finalStep = final["global_step"] as? Int ?? 0

        // Steps trained by each process: exact from its summary; for a killed process,
        // the checkpoints it wrote plus an estimate of the steps since the newest one.
        var trained = 0, estimated = false
        for run in runs {
            if let summary = run.summary, let step = summary["global_step"] as? Int {
                trained += step - (summary["resumed_step"] as? Int ?? 0)
            } else if let killedAfter = run.killedAfter {
                let newest = run.newestStepAtKill ?? run.startStep
                let since = killedAfter - (run.lastCheckpointAfter ?? run.resumeSeconds ?? killedAfter)
                let tail = Int((max(0, since) / reference.secondsPerStep).rounded())
                trained += max(0, newest - run.startStep) + tail
                estimated = estimated || tail > 0
            }
        }
        let emergency = runs.compactMap { ($0.summary?["interruption"] as? [String: Any])?["checkpoint_seconds"] as? Double }
        let resumes = runs.compactMap(\.resumeSeconds)
        return Row(schedule: schedule, signal: hardKill ? "SIGKILL" : "SIGTERM", saveEverySteps: saveEverySteps,
                   interruptions: interruptions, processes: runs.count, stepsRedone: max(0, trained - finalStep),
                   stepsRedoneEstimated: estimated, emergencySaveSeconds: emergency.reduce(0, +),
                   meanResumeSeconds: resumes.isEmpty ? nil : resumes.reduce(0, +) / Double(resumes.count),
                   wallSeconds: wall, referenceWallSeconds: reference.wallSeconds,
                   overheadPercent: 100 * (wall / reference.wallSeconds - 1), finalStep: finalStep,
                   weightsMatch: final["weights_sha256"] as? String == reference.weightsSHA256)
    }

    /// Starts one child, signals it at `interruptAt` (seconds since `sessionStart`), and
    /// watches its stderr and checkpoint directory while it runs.
    private func runChild(dir: String, saveEverySteps: Int, summary: String, sessionStart: Date,
                          interruptAt: Double?) throws -> ChildRun {
        try? FileManager.default.removeItem(atPath: summary)
        let errPath = summary + ".stderr"
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = trainArguments + ["--checkpoint-dir", dir, "--save-every-steps", "\(saveEverySteps)",
                                              "--keep", "3", "--summary", summary]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        let before = Set(checkpointSteps(dir))
        let spawned = Date()
        try process.run()
        var result = ChildRun(status: 0, signalled: false)
        result.startStep = before.max() ?? 0
        var seen = before
        while process.isRunning {
            let now = Date()
            if result.resumeSeconds == nil,
               let text = try? String(contentsOfFile: errPath, encoding: .utf8), text.contains("resuming from") {
                result.resumeSeconds = now.timeIntervalSince(spawned)
            }
            let steps = Set(checkpointSteps(dir))
            if !steps.subtracting(seen).isEmpty {
                result.lastCheckpointAfter = now.timeIntervalSince(spawned)
                seen = steps
            }
            if let at = interruptAt, result.killedAfter == nil, now.timeIntervalSince(sessionStart) >= at {
                result.newestStepAtKill = steps.max()
                kill(process.processIdentifier, hardKill ? SIGKILL : SIGTERM)
                result.killedAfter = now.timeIntervalSince(spawned)
            }
            usleep(2000)
        }
        process.waitUntilExit()
        result.status = process.terminationStatus
        result.signalled = process.terminationReason == .uncaughtSignal
        if let data = try? Data(contentsOf: URL(fileURLWithPath: summary)),
           let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
            result.summary = object
        }
        return result
    }

    private func checkpointSteps(_ dir: String) -> [Int] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).compactMap { name in
            guard name.hasPrefix("ckpt-"), name.hasSuffix(".spt") else { return nil }
            return Int(name.dropFirst(5).dropLast(4))
        }
    }

    /// A Markdown table of the rows.
    static func table(_ rows: [Row], signal: String) -> String {
        var lines = ["| schedule | save every | interruptions | processes | steps redone | emergency saves | mean time to resume | wall | uninterrupted | overhead | weights match |",
                     "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in rows {
            lines.append("| \(r.schedule) (\(r.signal)) | \(r.saveEverySteps) | \(r.interruptions) | \(r.processes) | "
                         + (r.stepsRedoneEstimated ? "≈" : "") + "\(r.stepsRedone) | "
                         + String(format: "%.2f s | ", r.emergencySaveSeconds)
                         + (r.meanResumeSeconds.map { String(format: "%.2f s", $0) } ?? "–") + " | "
                         + String(format: "%.1f s | %.1f s | %+.0f%% | ", r.wallSeconds, r.referenceWallSeconds, r.overheadPercent)
                         + (r.weightsMatch ? "yes" : "NO") + " |")
        }
        return lines.joined(separator: "\n")
    }
}

/// A simulation that could not run.
struct SimulationError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension Array where Element == String {
    /// The element after `flag`, if any.
    func value(after flag: String) -> String? {
        guard let i = firstIndex(of: flag), i + 1 < count else { return nil }
        return self[i + 1]
    }
}
