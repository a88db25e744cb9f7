import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A child process for the tests (the built `spottrain` by default): standard output and error
/// go to files (a chatty child can never block on a full pipe), standard input is empty.
///
/// Start it in the background with `init`, poll it with `wait(timeout:until:)`, signal it, and
/// collect a `Result` with `waitForExit(killingAfter:)` (blocking) or `exited(killingAfter:)`
/// (awaited without blocking a thread); or run it to the end in one call with `run`. A child
/// still running when its `ChildProcess` is released is killed.
final class ChildProcess: @unchecked Sendable {
    /// The variables a child starts with.
    struct Environment: Sendable {
        /// Every variable, exactly.
        var variables: [String: String]

        /// The test process's own environment.
        static var inherited: Environment { inherited(overriding: [:]) }

        /// The test process's own environment with `overrides` set on top.
        static func inherited(overriding overrides: [String: String]) -> Environment {
            Environment(variables: ProcessInfo.processInfo.environment.merging(overrides) { _, new in new })
        }

        /// The test process's own environment with the IMDS endpoint variable on loopback (a
        /// closed port unless `endpoint` is given), so that nothing can reach 169.254.169.254.
        static func loopbackIMDS(_ endpoint: String = "http://127.0.0.1:1") -> Environment {
            inherited(overriding: ["AWS_EC2_METADATA_SERVICE_ENDPOINT": endpoint])
        }

        /// PATH, HOME, the proxy variables (loopback always excluded from proxying), test
        /// credentials, no shared AWS files and IMDS disabled (unless a test passes an endpoint).
        static var hermetic: Environment { hermetic(overriding: [:]) }

        /// `hermetic` with `overrides` set on top.
        static func hermetic(overriding overrides: [String: String]) -> Environment {
            let parent = ProcessInfo.processInfo.environment
            var variables: [String: String] = [
                "PATH": parent["PATH"] ?? "/usr/bin:/bin",
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/spottrain-test/credentials",
                "AWS_CONFIG_FILE": "/nonexistent/spottrain-test/config",
                "AWS_EC2_METADATA_DISABLED": "true",
            ]
            for name in ["no_proxy", "NO_PROXY", "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "HOME"] {
                if let value = parent[name] { variables[name] = value }
            }
            // Loopback never goes through a proxy.
            for name in ["no_proxy", "NO_PROXY"] {
                variables[name] = ["127.0.0.1", "localhost", variables[name]].compactMap { $0 }.joined(separator: ",")
            }
            return Environment(variables: variables.merging(overrides) { _, new in new })
        }
    }

    /// How a child ended, and what it wrote.
    struct Result: Sendable {
        /// The exit status, or the signal number when `killed`.
        let status: Int32
        let stdout: String
        let stderr: String
        /// The test sent SIGKILL, or the child ended by a signal it did not handle.
        let killed: Bool
        /// When the exit was observed (polled every half millisecond by `waitForExit`).
        let exitedAt: Date

        /// Standard output parsed as one JSON object.
        func json() throws -> [String: Any] {
            try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any],
                         "stdout is not a JSON object: \(stdout) (stderr: \(stderr))")
        }

        /// The non-empty lines of standard error.
        var stderrLines: [Substring] { stderr.split(separator: "\n") }
    }

    /// The built `spottrain`: `SPOTTRAIN_BIN`, else the nearest directory holding `spottrain`
    /// at or above the test bundle (Swift Testing on Linux runs `<bin>/SpotTrainPackageTests.xctest`).
    static var spottrain: URL {
        if let path = ProcessInfo.processInfo.environment["SPOTTRAIN_BIN"] {
            return URL(fileURLWithPath: path)
        }
        var directory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("spottrain").path),
              directory.path != "/" {
            directory = directory.deletingLastPathComponent()
        }
        return directory.appendingPathComponent("spottrain")
    }

    private let process = Process()
    private let directory: URL
    private let stdoutFile: URL
    private let stderrFile: URL
    /// Finishes when the child has exited.
    private let exitEvents: AsyncStream<Void>
    /// Set by `signal(SIGKILL)`; only the test that owns the child signals it.
    private var sentKill = false

    /// Starts `executable` with `arguments` in the background.
    ///
    /// - Parameters:
    ///   - arguments: The command line after the executable.
    ///   - executable: The program; the built `spottrain` unless given.
    ///   - environment: The child's variables; the test process's own unless given.
    ///   - workingDirectory: The child's current directory; the test process's unless given.
    /// - Throws: When the output files cannot be made or the program cannot be started.
    init(_ arguments: [String], executable: URL = ChildProcess.spottrain, environment: Environment = .inherited,
         workingDirectory: URL? = nil) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("spottrain-child-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        stdoutFile = directory.appendingPathComponent("stdout")
        stderrFile = directory.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: stdoutFile.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
        let (events, continuation) = AsyncStream.makeStream(of: Void.self)
        exitEvents = events
        process.executableURL = executable
        process.arguments = arguments
        process.environment = environment.variables
        if let workingDirectory { process.currentDirectoryURL = workingDirectory }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: stdoutFile)
        process.standardError = try FileHandle(forWritingTo: stderrFile)
        process.terminationHandler = { _ in continuation.finish() }
        try process.run()
    }

    deinit {
        // SIGKILL: a child started from a Swift-concurrency thread may have SIGTERM blocked.
        if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        try? FileManager.default.removeItem(at: directory)
    }

    /// Starts a child and waits for its exit, blocking the calling thread.
    ///
    /// - Parameters:
    ///   - arguments, executable, environment, workingDirectory: As for `init`.
    ///   - poll: Called about every half millisecond while the child runs; when it returns
    ///     true the child gets SIGKILL.
    /// - Returns: The exit status and the output.
    /// - Throws: When the child cannot be started.
    static func run(_ arguments: [String], executable: URL = ChildProcess.spottrain, environment: Environment = .inherited,
                    workingDirectory: URL? = nil, killWhen poll: (() -> Bool)? = nil) throws -> Result {
        let child = try ChildProcess(arguments, executable: executable, environment: environment,
                                     workingDirectory: workingDirectory)
        if let poll, child.wait(until: poll) { child.signal(SIGKILL) }
        return child.waitForExit()
    }

    /// Starts a child and awaits its exit without blocking a thread.
    ///
    /// - Parameters: As for `init`.
    /// - Returns: The exit status and the output.
    /// - Throws: When the child cannot be started.
    static func run(_ arguments: [String], executable: URL = ChildProcess.spottrain, environment: Environment = .inherited,
                    workingDirectory: URL? = nil) async throws -> Result {
        let child = try ChildProcess(arguments, executable: executable, environment: environment,
                                     workingDirectory: workingDirectory)
        return await child.exited()
    }

    /// Whether the child has not exited yet.
    var isRunning: Bool { process.isRunning }

    /// What the child has written to standard output so far.
    var stdout: String { (try? String(contentsOf: stdoutFile, encoding: .utf8)) ?? "" }

    /// What the child has written to standard error so far.
    var stderr: String { (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? "" }

    /// Sends `number` (SIGTERM, SIGKILL, …) to the child.
    func signal(_ number: Int32) {
        if number == SIGKILL { sentKill = true }
        kill(process.processIdentifier, number)
    }

    /// Calls `condition` about every half millisecond while the child runs.
    ///
    /// - Parameters:
    ///   - timeout: How long to keep polling; no bound unless given.
    ///   - condition: What to wait for.
    /// - Returns: True as soon as `condition` returns true; false once the child has exited or
    ///   `timeout` has passed.
    /// - Throws: What `condition` throws.
    func wait(timeout: Duration? = nil, until condition: () throws -> Bool) rethrows -> Bool {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while process.isRunning {
            if try condition() { return true }
            if let deadline, ContinuousClock.now >= deadline { return false }
            usleep(500)
        }
        return false
    }

    /// Waits for the exit, blocking the calling thread (polls every half millisecond, so that
    /// `Result.exitedAt` is close to the real exit).
    ///
    /// - Parameter timeout: After this long the child gets SIGKILL; no bound unless given.
    /// - Returns: The exit status and the output.
    func waitForExit(killingAfter timeout: Duration? = nil) -> Result {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while process.isRunning {
            if let deadline, !sentKill, ContinuousClock.now >= deadline { signal(SIGKILL) }
            usleep(500)
        }
        let exitedAt = Date()
        process.waitUntilExit()
        return result(exitedAt: exitedAt)
    }

    /// Awaits the exit without blocking a thread.
    ///
    /// - Parameter timeout: After this long (checked every 20 ms) the child gets SIGKILL; no
    ///   bound unless given.
    /// - Returns: The exit status and the output.
    func exited(killingAfter timeout: Duration? = nil) async -> Result {
        if let timeout {
            let deadline = ContinuousClock.now + timeout
            while process.isRunning, ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(20))
            }
            if process.isRunning { signal(SIGKILL) }
        }
        for await _ in exitEvents {}
        return result(exitedAt: Date())
    }

    private func result(exitedAt: Date) -> Result {
        Result(status: process.terminationStatus, stdout: stdout, stderr: stderr,
               killed: sentKill || process.terminationReason == .uncaughtSignal, exitedAt: exitedAt)
    }
}
