import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs the built `spottrain-mpi` under `mpirun` on loopback for the tests.
enum MPIRun {
    /// The package root (this file is `Tests/SpotTrainMPITests/MPIRun.swift`).
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// `mpirun` on `PATH`, if installed (Debian: `openmpi-bin`).
    static let mpirun: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/mpirun" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    /// Whether the MPI tests can run; otherwise they are skipped with a message.
    static var isAvailable: Bool { mpirun != nil && binary != nil && mnistDirectory != nil }

    /// Why the MPI tests are skipped.
    static var unavailableReason: Comment {
        if mpirun == nil { return "mpirun is not installed (Debian: openmpi-bin); MPI tests skipped" }
        if binary == nil { return "the built spottrain-mpi was not found (SPOTTRAIN_MPI_BIN); MPI tests skipped" }
        return "no MNIST (Data/mnist or SPOTTRAIN_MNIST_DIR); MPI tests skipped"
    }

    /// The built `spottrain-mpi`: `SPOTTRAIN_MPI_BIN`, else the nearest directory at or above
    /// the test bundle that holds it.
    static let binary: String? = {
        if let path = ProcessInfo.processInfo.environment["SPOTTRAIN_MPI_BIN"] { return path }
        var directory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("spottrain-mpi").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return nil
    }()

    /// The real MNIST: `SPOTTRAIN_MNIST_DIR`, else the package's `Data/mnist`.
    static let mnistDirectory: String? = {
        if let dir = ProcessInfo.processInfo.environment["SPOTTRAIN_MNIST_DIR"] { return dir }
        let dir = packageRoot.appendingPathComponent("Data/mnist").path
        return FileManager.default.fileExists(atPath: dir + "/train-labels-idx1-ubyte.gz") ? dir : nil
    }()

    /// How a run ended.
    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String

        /// Standard output's last line parsed as a JSON object (rank 0's summary).
        func json() throws -> [String: Any] {
            let line = stdout.split(separator: "\n").last.map(String.init) ?? ""
            return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                                "stdout is not a JSON summary: \(stdout)\nstderr: \(stderr)")
        }
    }

    /// Runs `mpirun --allow-run-as-root --oversubscribe -np ranks spottrain-mpi arguments…`.
    ///
    /// A watchdog kills the run after `timeout` seconds (a hang, not a performance bound).
    /// - Parameters:
    ///   - ranks: The number of processes.
    ///   - arguments: The `spottrain-mpi` arguments.
    ///   - timeout: Seconds before a hang is declared.
    ///   - reportingEachRank: Run every rank under `sh`, which prints
    ///     `spottrain-mpi rank R exit S` on standard error when it ends (see
    ///     ``rankStatuses(in:ranks:)``), and keep `mpirun` from killing the other ranks when
    ///     one exits non-zero, so that every rank's own status is seen. `mpirun`'s own status
    ///     is then 0 whatever the ranks return.
    /// - Returns: The exit status and output.
    /// - Throws: When `mpirun` cannot be started.
    static func run(ranks: Int, _ arguments: [String], timeout: Double = 300, reportingEachRank: Bool = false) throws -> Outcome {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("spottrain-mpi-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let out = directory.appendingPathComponent("stdout"), err = directory.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: mpirun ?? "/usr/bin/mpirun")
        let program = binary ?? "spottrain-mpi"
        if reportingEachRank {
            let report = #""$0" "$@"; status=$?; echo "spottrain-mpi rank $OMPI_COMM_WORLD_RANK exit $status" >&2; exit $status"#
            process.arguments = ["--allow-run-as-root", "--oversubscribe", "--mca", "orte_abort_on_non_zero_status", "0",
                                 "-np", String(ranks), "/bin/sh", "-c", report, program] + arguments
        } else {
            process.arguments = ["--allow-run-as-root", "--oversubscribe", "-np", String(ranks), program] + arguments
        }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { usleep(10_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            Issue.record("mpirun -np \(ranks) \(arguments) hung for \(timeout) s; killed")
        }
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus,
                       stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                       stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }

    /// Each rank's exit status from the lines a ``run(ranks:_:timeout:reportingEachRank:)``
    /// with `reportingEachRank` prints, indexed by rank (nil for a rank that printed none).
    static func rankStatuses(in stderr: String, ranks: Int) -> [Int32?] {
        var statuses = [Int32?](repeating: nil, count: ranks)
        let marker = "spottrain-mpi rank "
        for line in stderr.split(separator: "\n") {
            // The line may carry a prefix of mpirun's (`[1,0]<stderr>:`).
            guard let found = line.range(of: marker) else { continue }
            let words = line[found.upperBound...].split(separator: " ")
            guard words.count == 3, words[1] == "exit", let rank = Int(words[0]), rank >= 0, rank < ranks,
                  let status = Int32(words[2]) else { continue }
            statuses[rank] = status
        }
        return statuses
    }

    /// A new empty temporary directory.
    static func temporaryDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("spottrain-mpi-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.path
    }
}
