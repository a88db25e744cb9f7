import Foundation
import SpotTrain
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `spottrain-mpi train` runs for the tests: started in the background, their ranks found by
/// `/proc` (to signal one of them), their summaries read.
extension MPIRun {
    /// A `mpirun` started in the background.
    final class Job {
        let process: Process
        let directory: URL
        let ranks: Int
        let marker: String

        init(process: Process, directory: URL, ranks: Int, marker: String) {
            self.process = process
            self.directory = directory
            self.ranks = ranks
            self.marker = marker
        }

        /// The pid of rank `rank` (a process whose command line holds `marker` and whose
        /// environment has `OMPI_COMM_WORLD_RANK=rank`), nil while it is not running.
        func pid(ofRank rank: Int) -> pid_t? {
            guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return nil }
            for entry in entries {
                guard let pid = pid_t(entry),
                      let cmdline = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(entry)/cmdline")),
                      String(decoding: cmdline, as: UTF8.self).contains(marker),
                      !String(decoding: cmdline, as: UTF8.self).contains("mpirun"),
                      let environ = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(entry)/environ")) else { continue }
                let variables = environ.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
                if variables.contains("OMPI_COMM_WORLD_RANK=\(rank)") { return pid }
            }
            return nil
        }

        /// Waits for the job to end (killing it after `timeout` seconds: a hang, not a
        /// performance bound) and returns how it ended.
        func wait(timeout: Double = 600) -> Outcome {
            let deadline = Date().addingTimeInterval(timeout)
            while process.isRunning, Date() < deadline { usleep(20_000) }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                Issue.record("mpirun -np \(ranks) hung for \(timeout) s; killed")
            }
            process.waitUntilExit()
            defer { try? FileManager.default.removeItem(at: directory) }
            return Outcome(status: process.terminationStatus,
                           stdout: (try? String(contentsOf: directory.appendingPathComponent("stdout"), encoding: .utf8)) ?? "",
                           stderr: (try? String(contentsOf: directory.appendingPathComponent("stderr"), encoding: .utf8)) ?? "")
        }
    }

    /// Starts `mpirun --allow-run-as-root --oversubscribe -np ranks spottrain-mpi arguments…`.
    /// - Parameters:
    ///   - ranks: The number of processes.
    ///   - arguments: The `spottrain-mpi` arguments; one of them must be unique to this run
    ///     (`marker`), to find its ranks.
    ///   - marker: An argument unique to this run (a temporary path).
    /// - Returns: The running job.
    /// - Throws: When `mpirun` cannot be started.
    static func start(ranks: Int, _ arguments: [String], marker: String) throws -> Job {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spottrain-mpi-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let out = directory.appendingPathComponent("stdout"), err = directory.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: mpirun ?? "/usr/bin/mpirun")
        process.arguments = ["--allow-run-as-root", "--oversubscribe", "-np", String(ranks), binary ?? "spottrain-mpi"] + arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        return Job(process: process, directory: directory, ranks: ranks, marker: marker)
    }

    /// Reads a `--summary` file as a JSON object.
    static func summary(at path: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "not a JSON object: \(path)")
    }

    /// The global steps of the checkpoint files (no temporaries) in `directory`, ascending.
    static func checkpointSteps(in directory: String) -> [Int] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .compactMap(CheckpointDirectory.globalStep(fromFileName:)).sorted()
    }

    /// Waits until `condition` holds or `timeout` seconds pass (a hang watchdog).
    @discardableResult
    static func waitUntil(timeout: Double = 300, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }
}
