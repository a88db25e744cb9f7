import Foundation
import Testing

/// A `spottrain` child process that tests can signal while it runs, with its exit time.
final class SpotChild {
    let process = Process()
    private let directory: URL
    private let outURL: URL
    private let errURL: URL

    /// Starts `spottrain` with `arguments`. The IMDS endpoint variable always points at
    /// loopback (a closed port unless `imdsEndpoint` is given), so nothing can reach
    /// 169.254.169.254.
    init(_ arguments: [String], imdsEndpoint: String? = nil) throws {
        process.executableURL = SpotTrainBinary.url
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = imdsEndpoint ?? "http://127.0.0.1:1"
        process.environment = environment
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("spottrain-child-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        outURL = directory.appendingPathComponent("out")
        errURL = directory.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        try process.run()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        try? FileManager.default.removeItem(at: directory)
    }

    /// Calls `condition` about every half millisecond until it returns true (→ `true`) or the
    /// process exits (→ `false`).
    func wait(until condition: () -> Bool) -> Bool {
        while process.isRunning {
            if condition() { return true }
            usleep(500)
        }
        return false
    }

    /// Waits for the exit; returns the status and the moment the exit was observed (polled
    /// every half millisecond).
    func waitForExit() -> (status: Int32, exitedAt: Date) {
        while process.isRunning { usleep(500) }
        let exitedAt = Date()
        process.waitUntilExit()
        return (process.terminationStatus, exitedAt)
    }

    /// The file the child's standard output goes to.
    var stdoutPath: String { outURL.path }

    /// What the child wrote on standard error.
    var stderr: String { (try? String(contentsOf: errURL, encoding: .utf8)) ?? "" }

    /// Sends a signal.
    func signal(_ number: Int32) { kill(process.processIdentifier, number) }
}

/// `Scripts/fake_imds.py` on 127.0.0.1, with its control API spoken over a plain socket (no
/// proxy can intervene, unlike URLSession).
final class FakeIMDS {
    let process = Process()
    let port: Int
    private let directory: String

    static var isAvailable: Bool {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") || FileManager.default.isExecutableFile(atPath: "/usr/local/bin/python3")
            || ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":").contains {
                FileManager.default.isExecutableFile(atPath: "\($0)/python3") } == true
    }

    init() throws {
        directory = try CLI.temporaryDirectory()
        let portFile = directory + "/port"
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", CLI.packageRoot.appendingPathComponent("Scripts/fake_imds.py").path,
                             "--port", "0", "--port-file", portFile, "--quiet", "--exit-with-parent"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        var text: String?
        while process.isRunning {
            if let t = try? String(contentsOfFile: portFile, encoding: .utf8), let _ = Int(t.trimmingCharacters(in: .whitespacesAndNewlines)) {
                text = t
                break
            }
            usleep(2000)
        }
        let portText = try #require(text, "fake_imds.py exited before writing its port")
        port = try #require(Int(portText.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGTERM); process.waitUntilExit() }
        try? FileManager.default.removeItem(atPath: directory)
    }

    var endpoint: String { "http://127.0.0.1:\(port)" }

    /// POSTs a control command with a JSON body; returns the response body.
    @discardableResult
    func control(_ command: String, _ json: String = "{}") throws -> String {
        try request("POST", "/_control/" + command, body: json)
    }

    /// `GET /_control/state` as a dictionary.
    func state() throws -> [String: Any] {
        let body = try request("GET", "/_control/state", body: nil)
        return try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
    }

    private func request(_ method: String, _ path: String, body: String?) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(connected == 0, "cannot connect to the fake IMDS on port \(port)")
        let payload = Array((body ?? "").utf8)
        var message = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        if body != nil { message += "Content-Type: application/json\r\nContent-Length: \(payload.count)\r\n" }
        let bytes = Array((message + "\r\n").utf8) + payload
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            try #require(n > 0)
            sent += n
        }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            response += buffer[0..<n]
        }
        let text = String(decoding: response, as: UTF8.self)
        try #require(text.hasPrefix("HTTP/1.") && text.contains(" 200 "), "fake IMDS: \(text.prefix(200))")
        guard let split = text.range(of: "\r\n\r\n") else { return "" }
        return String(text[split.upperBound...])
    }
}

/// Checkpoint files in a directory, by global step.
func checkpointSteps(in dir: String) -> [Int] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
    return names.compactMap { name -> Int? in
        guard name.hasPrefix("ckpt-"), name.hasSuffix(".spt") else { return nil }
        return Int(name.dropFirst(5).dropLast(4))
    }.sorted()
}
