import EC2Spot
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `Scripts/fake_imds.py`, started as a child process on a free loopback port.
///
/// The script runs with `--exit-with-parent`, so it also goes away if the test process dies
/// before ``stop()`` runs.
final class FakeIMDS: @unchecked Sendable {
    /// The repository root, found from this file's path.
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// The server script.
    static let script = repositoryRoot.appendingPathComponent("Scripts/fake_imds.py")

    /// The real interpreter behind `python3` on the PATH, resolved once so that each start
    /// skips wrappers such as pyenv shims (`nil`: fall back to `/usr/bin/env python3`).
    static let interpreter: String? = {
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = ["python3", "-c", "import sys; print(sys.executable)"]
        let pipe = Pipe()
        probe.standardOutput = pipe
        probe.standardError = FileHandle.nullDevice
        guard (try? probe.run()) != nil else { return nil }
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        probe.waitUntilExit()
        let path = String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return probe.terminationStatus == 0 && FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }()

    let process: Process
    let port: Int
    let endpoint: URL
    private let directory: URL
    private let logHandle: FileHandle
    private let transport = AsyncHTTPClientTransport.instanceMetadata()

    struct StartError: Error, CustomStringConvertible {
        var description: String
    }

    private init(process: Process, port: Int, directory: URL, logHandle: FileHandle) {
        self.process = process
        self.port = port
        self.directory = directory
        self.logHandle = logHandle
        endpoint = URL(string: "http://127.0.0.1:\(port)")!
    }

    /// Starts the server and waits (without blocking a thread) until it has written its port.
    /// - Parameter arguments: Extra command-line arguments for the script.
    static func start(arguments: [String] = []) async throws -> FakeIMDS {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("fake-imds-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let portFile = directory.appendingPathComponent("port")
        let logFile = directory.appendingPathComponent("stderr.log")
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        let logHandle = try FileHandle(forWritingTo: logFile)

        let process = Process()
        let scriptArguments = [Self.script.path, "--port", "0", "--port-file", portFile.path,
                               "--exit-with-parent", "--quiet"] + arguments
        if let interpreter = Self.interpreter {
            process.executableURL = URL(fileURLWithPath: interpreter)
            process.arguments = scriptArguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3"] + scriptArguments
        }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = logHandle
        process.standardInput = FileHandle.nullDevice
        try process.run()

        for _ in 0..<2000 {  // up to ~20 s for an interpreter start on a loaded machine
            if let text = try? String(contentsOf: portFile, encoding: .utf8),
               let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                return FakeIMDS(process: process, port: port, directory: directory, logHandle: logHandle)
            }
            if !process.isRunning { break }
            try? await Task.sleep(for: .milliseconds(10))
        }
        let log = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? logHandle.close()
        try? FileManager.default.removeItem(at: directory)
        throw StartError(description: "fake_imds.py did not start: \(log)")
    }

    /// Stops the server: SIGTERM, then SIGKILL if it is still running after five seconds;
    /// waits without blocking a thread. Idempotent.
    func shutdown() async {
        if process.isRunning {
            process.terminate()
            for _ in 0..<500 where process.isRunning { try? await Task.sleep(for: .milliseconds(10)) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        stop()
    }

    /// Stops the server synchronously (the fallback for `deinit`). Idempotent.
    func stop() {
        if process.isRunning {
            process.terminate()
            for _ in 0..<500 where process.isRunning { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        process.waitUntilExit()
        try? logHandle.close()
        try? FileManager.default.removeItem(at: directory)
    }

    deinit { stop() }

    /// Sends a control command, for example `control("interrupt", ["action": "terminate"])`.
    @discardableResult
    func control(_ command: String, _ parameters: [String: any Sendable] = [:]) async throws -> HTTPResponse {
        let body = try JSONSerialization.data(withJSONObject: parameters)
        let response = try await transport.send(HTTPRequest(
            method: "POST", url: endpoint.appendingPathComponent("_control/\(command)"),
            headers: ["content-type": "application/json"], body: body, timeout: .seconds(5)))
        guard response.status == 200 else {
            throw StartError(description: "control \(command) failed: HTTP \(response.status) \(String(decoding: response.body, as: UTF8.self))")
        }
        return response
    }

    /// The server's `/_control/state` document.
    func state() async throws -> [String: Any] {
        let response = try await transport.send(HTTPRequest(
            method: "GET", url: endpoint.appendingPathComponent("_control/state"), timeout: .seconds(5)))
        return try #require(try JSONSerialization.jsonObject(with: response.body) as? [String: Any])
    }

    /// How many tokens the server has issued.
    func tokenRequests() async throws -> Int {
        try #require(try await state()["token_requests"] as? Int)
    }

    /// Sends a raw request to the server.
    func raw(_ method: String, _ path: String, headers: [String: String] = [:]) async throws -> HTTPResponse {
        try await transport.send(HTTPRequest(method: method, url: URL(string: endpoint.absoluteString + path)!,
                                             headers: headers, timeout: .seconds(5)))
    }
}

/// Runs `body` with a fresh fake IMDS, stopping it afterwards even when `body` throws.
func withFakeIMDS<T>(arguments: [String] = [], _ body: (FakeIMDS) async throws -> T) async throws -> T {
    let imds = try await FakeIMDS.start(arguments: arguments)
    do {
        let result = try await body(imds)
        await imds.shutdown()
        return result
    } catch {
        await imds.shutdown()
        throw error
    }
}

/// A settable clock for token-expiry tests.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current = Date(timeIntervalSince1970: 1_800_000_000)

    var now: Date { lock.withLock { current } }

    func advance(by seconds: TimeInterval) {
        lock.withLock { current += seconds }
    }
}
