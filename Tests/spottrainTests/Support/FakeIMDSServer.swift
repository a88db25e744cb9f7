import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `Scripts/fake_imds.py` on 127.0.0.1 at a free port, with its control API spoken over a
/// plain socket (no proxy can intervene). The server is killed when this
/// object is released, and exits by itself with the test process.
final class FakeIMDSServer: @unchecked Sendable {
    /// Whether `python3` is on PATH (or in /usr/bin, /usr/local/bin).
    static var isAvailable: Bool {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") || FileManager.default.isExecutableFile(atPath: "/usr/local/bin/python3")
            || ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":").contains {
                FileManager.default.isExecutableFile(atPath: "\($0)/python3") } == true
    }

    /// The loopback port the server listens on.
    let port: Int
    private let server: ChildProcess

    /// Starts the server and waits (at most a minute) until it has written its port.
    ///
    /// - Parameter arguments: More options of `fake_imds.py` (`--instance-id`, `--instance-type`,
    ///   `--availability-zone`, …).
    /// - Throws: `FakeIMDSServer.StartError` with the server's standard error when it exits or
    ///   does not report a port in time.
    init(_ arguments: [String] = []) throws {
        let directory = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let portFile = directory + "/port"
        func writtenPort() -> Int? {
            (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        let script = Fixtures.packageRoot.appendingPathComponent("Scripts/fake_imds.py").path
        let server = try ChildProcess(["python3", script, "--port", "0", "--port-file", portFile, "--quiet", "--exit-with-parent"] + arguments,
                                      executable: URL(fileURLWithPath: "/usr/bin/env"), environment: .hermetic)
        guard server.wait(timeout: .seconds(60), until: { writtenPort() != nil }), let port = writtenPort() else {
            let result = server.waitForExit(killingAfter: .zero)
            throw StartError(description: "fake_imds.py did not start (status \(result.status)): \(result.stderr)")
        }
        self.server = server
        self.port = port
    }

    /// The base URL to pass as an IMDS endpoint.
    var endpoint: String { "http://127.0.0.1:\(port)" }

    /// POSTs `/_control/<command>` with a JSON body.
    ///
    /// - Parameters:
    ///   - command: `interrupt`, `rebalance`, `fail`, … (see `Scripts/fake_imds.py`).
    ///   - json: The request body.
    /// - Returns: The response body.
    /// - Throws: When the server cannot be reached or does not answer 200.
    @discardableResult
    func control(_ command: String, _ json: String = "{}") throws -> String {
        try request("POST", "/_control/" + command, body: json)
    }

    /// `GET /_control/state` as a dictionary.
    ///
    /// - Returns: The server's notices, pending failures and timings.
    /// - Throws: When the server cannot be reached or the answer is not a JSON object.
    func state() throws -> [String: Any] {
        let body = try request("GET", "/_control/state", body: nil)
        return try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
    }

    /// Kills the server and waits for its exit.
    func stop() {
        _ = server.waitForExit(killingAfter: .zero)
    }

    /// Why the server did not start.
    struct StartError: Error, CustomStringConvertible {
        var description: String
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
