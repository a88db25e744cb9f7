import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The result of one `spottrain` run.
struct EC2CLIResult {
    var status: Int32
    var stdout: String
    var stderr: String

    /// Standard output parsed as one JSON object.
    func json() throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any],
                     "stdout is not a JSON object: \(stdout) (stderr: \(stderr))")
    }

    /// The non-empty lines of standard error.
    var stderrLines: [Substring] { stderr.split(separator: "\n") }
}

/// A child process whose output goes to files, awaited without blocking a thread.
final class EC2CLIProcess: @unchecked Sendable {
    let process = Process()
    let directory: URL
    let stdoutFile: URL
    let stderrFile: URL
    private let exited: AsyncStream<Int32>
    private let exitContinuation: AsyncStream<Int32>.Continuation

    /// Starts `executable` with `arguments`; the environment is exactly `environment`.
    init(_ executable: URL, _ arguments: [String], environment: [String: String]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ec2cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        stdoutFile = directory.appendingPathComponent("stdout")
        stderrFile = directory.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: stdoutFile.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
        (exited, exitContinuation) = AsyncStream.makeStream(of: Int32.self, bufferingPolicy: .bufferingNewest(1))
        process.executableURL = executable
        process.arguments = arguments
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: stdoutFile)
        process.standardError = try FileHandle(forWritingTo: stderrFile)
        let continuation = exitContinuation
        process.terminationHandler = { finished in
            continuation.yield(finished.terminationStatus)
            continuation.finish()
        }
        try process.run()
    }

    deinit {
        // SIGKILL: a child started from a Swift-concurrency thread may have SIGTERM blocked.
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: directory)
    }

    /// What the process has written to standard output so far.
    var stdoutSoFar: String { (try? String(contentsOf: stdoutFile, encoding: .utf8)) ?? "" }

    /// Waits for the exit and returns the status and the output.
    func finish() async -> EC2CLIResult {
        var status: Int32 = -1
        for await code in exited { status = code }
        return EC2CLIResult(status: status, stdout: stdoutSoFar,
                            stderr: (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? "")
    }

    /// Kills the process (SIGKILL cannot be blocked).
    func forceStop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

/// Runs the built `spottrain` binary with a hermetic environment.
enum EC2CLI {
    static let parentEnvironment = ProcessInfo.processInfo.environment

    /// PATH, proxy exclusions, test credentials, no shared files and no IMDS (unless a test
    /// passes `--imds-endpoint`), plus `extra`.
    static func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var environment: [String: String] = [
            "PATH": parentEnvironment["PATH"] ?? "/usr/bin:/bin",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/spottrain-test/credentials",
            "AWS_CONFIG_FILE": "/nonexistent/spottrain-test/config",
            "AWS_EC2_METADATA_DISABLED": "true",
        ]
        for name in ["no_proxy", "NO_PROXY", "http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "HOME"] {
            if let value = parentEnvironment[name] { environment[name] = value }
        }
        // Loopback never goes through a proxy.
        for name in ["no_proxy", "NO_PROXY"] {
            environment[name] = ["127.0.0.1", "localhost", environment[name]].compactMap { $0 }.joined(separator: ",")
        }
        return environment.merging(extra) { _, new in new }
    }

    /// Starts `spottrain <arguments>`.
    static func start(_ arguments: [String], environment extra: [String: String] = [:]) throws -> EC2CLIProcess {
        try EC2CLIProcess(SpotTrainBinary.url, arguments, environment: environment(extra))
    }

    /// Runs `spottrain <arguments>` to the end.
    static func run(_ arguments: [String], environment extra: [String: String] = [:]) async throws -> EC2CLIResult {
        let process = try start(arguments, environment: extra)
        return await process.finish()
    }

    /// A loopback TCP port nothing listens on (bound, then closed).
    static func closedLoopbackPort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 ? getsockname(fd, pointer, &length) : -1
            }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Waits (polling every 20 ms, at most about a minute so a broken run fails instead of
    /// hanging) until `condition` holds.
    static func waitUntil(_ condition: () async throws -> Bool) async rethrows -> Bool {
        for _ in 0..<3000 {
            if try await condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }
}

/// Python helpers: boto3 against moto, and the fake IMDS's control API (no proxy).
enum EC2CLIPython {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `SPOTTRAIN_MOTO_PYTHON`, else `python3` from PATH.
    static var interpreter: [String] {
        if let python = EC2CLI.parentEnvironment["SPOTTRAIN_MOTO_PYTHON"], !python.isEmpty { return [python] }
        return ["/usr/bin/env", "python3"]
    }

    /// Runs a Python snippet and decodes its standard output as JSON.
    static func run(_ script: String, _ arguments: [String] = []) async throws -> Any {
        let command = interpreter
        let process = try EC2CLIProcess(URL(fileURLWithPath: command[0]), Array(command.dropFirst()) + ["-c", script] + arguments,
                                        environment: EC2CLI.environment())
        let result = await process.finish()
        guard result.status == 0 else {
            throw EC2CLITestError("python failed (\(result.status)): \(result.stderr)")
        }
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8), options: [.fragmentsAllowed])
    }
}

/// moto, as `Scripts/ci/moto.sh start` exports it.
enum EC2CLIMoto {
    static var endpoint: String? {
        guard let text = EC2CLI.parentEnvironment["SPOTTRAIN_MOTO_ENDPOINT"], let url = URL(string: text),
              let host = url.host, ["127.0.0.1", "localhost", "::1"].contains(host) else { return nil }
        return text
    }

    /// Runs boto3 code with `ec2` bound to a client for moto; `sys.argv[1:]` are `arguments`.
    static func boto3(_ body: String, _ arguments: [String] = []) async throws -> Any {
        let script = """
            import json, sys, boto3
            ec2 = boto3.client("ec2", endpoint_url=\(pythonString(endpoint ?? "")), region_name="us-east-1",
                               aws_access_key_id="testing", aws_secret_access_key="testing")

            """ + body
        return try await EC2CLIPython.run(script, arguments)
    }

    /// Launches an instance in `zone`; returns its id.
    static func launch(zone: String) async throws -> String {
        let id = try await boto3("""
            r = ec2.run_instances(ImageId="ami-12c6146b", InstanceType="t3.micro", MinCount=1, MaxCount=1,
                                  Placement={"AvailabilityZone": sys.argv[1]})
            print(json.dumps(r["Instances"][0]["InstanceId"]))
            """, [zone])
        return try #require(id as? String)
    }

    /// What boto3 sees of one volume: `{"state", "zone", "attached_to": [...], "tags": {...}, "size"}`.
    static func volume(_ volumeId: String) async throws -> [String: Any] {
        let value = try await boto3("""
            v = ec2.describe_volumes(VolumeIds=[sys.argv[1]])["Volumes"][0]
            print(json.dumps({"state": v["State"], "zone": v["AvailabilityZone"], "size": v["Size"],
                              "attached_to": [a["InstanceId"] for a in v.get("Attachments", []) if a["State"] == "attached"],
                              "tags": {t["Key"]: t["Value"] for t in v.get("Tags", [])}}))
            """, [volumeId])
        return try #require(value as? [String: Any])
    }

    static func pythonString(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}

/// `Scripts/fake_imds.py` on a free loopback port, for `spottrain ec2 watch`.
final class EC2CLIFakeIMDS: @unchecked Sendable {
    let server: EC2CLIProcess
    let endpoint: String

    private init(server: EC2CLIProcess, endpoint: String) {
        self.server = server
        self.endpoint = endpoint
    }

    static func start() async throws -> EC2CLIFakeIMDS {
        let portFile = FileManager.default.temporaryDirectory.appendingPathComponent("ec2cli-imds-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: portFile) }
        let script = EC2CLIPython.repositoryRoot.appendingPathComponent("Scripts/fake_imds.py").path
        let server = try EC2CLIProcess(URL(fileURLWithPath: "/usr/bin/env"),
                                       ["python3", script, "--port", "0", "--port-file", portFile.path,
                                        "--exit-with-parent", "--quiet"],
                                       environment: EC2CLI.environment())
        let started = await EC2CLI.waitUntil {
            (try? String(contentsOf: portFile, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } != nil
                || !server.process.isRunning
        }
        guard started, let text = try? String(contentsOf: portFile, encoding: .utf8),
              let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            server.forceStop()
            let result = await server.finish()
            throw EC2CLITestError("fake_imds.py did not start: \(result.stderr)")
        }
        return EC2CLIFakeIMDS(server: server, endpoint: "http://127.0.0.1:\(port)")
    }

    /// POSTs `/_control/<command>` with a JSON body (through Python's urllib, proxies off).
    func control(_ command: String, _ body: String = "{}") async throws {
        _ = try await EC2CLIPython.run("""
            import json, sys, urllib.request
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            request = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), method="POST",
                                             headers={"Content-Type": "application/json"})
            print(json.dumps(opener.open(request, timeout=10).status))
            """, [endpoint + "/_control/" + command, body])
    }

    func stop() async {
        server.forceStop()
        _ = await server.finish()
    }
}

struct EC2CLITestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
