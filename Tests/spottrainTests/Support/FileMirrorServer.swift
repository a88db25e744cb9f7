import Foundation

/// A loopback file mirror for `spottrain data download` (a small Python server written to a
/// temporary directory). A request for `/<mirror>/<file>` is answered from the directory
/// `<root>/<mirror>/`, according to the mirror's name:
///
/// - `truncated…`: a `Content-Length` of the whole file, half of it, then the connection is
///   closed (a body cut short);
/// - `padded…`: the file followed by 1 MiB of zeros (a body larger than any archive);
/// - any other name: the file as it is;
/// - a missing file: 404.
///
/// Every request is logged as one line `/<mirror>/<file>`.
final class FileMirrorServer: @unchecked Sendable {
    let port: Int
    /// Where the mirrors' directories are made.
    let root: String
    private let server: ChildProcess
    private let directory: String

    /// The base URL of mirror `name` (to pass as `--mirror`).
    func mirror(_ name: String) -> String { "http://127.0.0.1:\(port)/\(name)/" }

    /// The paths requested so far, in order.
    var requests: [String] {
        ((try? String(contentsOfFile: directory + "/log", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    static let script = #"""
import os, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
ROOT, PORTFILE, LOG = sys.argv[1], sys.argv[2], sys.argv[3]
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_GET(self):
        with open(LOG, "a") as f: f.write(self.path + "\n")
        parts = self.path.strip("/").split("/")
        path = os.path.join(ROOT, *parts) if len(parts) == 2 and ".." not in parts else None
        if path is None or not os.path.isfile(path):
            self.send_response(404); self.send_header("Content-Length", "0"); self.end_headers(); return
        body = open(path, "rb").read()
        if parts[0].startswith("padded"): body += b"\0" * (1 << 20)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if parts[0].startswith("truncated"):
            self.wfile.write(body[: len(body) // 2]); self.wfile.flush(); self.close_connection = True
            return
        self.wfile.write(body)
srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
open(PORTFILE + ".tmp", "w").write(str(srv.server_address[1])); os.rename(PORTFILE + ".tmp", PORTFILE)
srv.serve_forever()
"""#

    /// Starts the server and waits (at most a minute) for its port.
    /// - Throws: When the server does not start.
    init() throws {
        directory = try Fixtures.temporaryDirectory()
        root = directory + "/root"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let scriptPath = directory + "/file_mirror.py"
        try Self.script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        let portFile = directory + "/port"
        func writtenPort() -> Int? {
            (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        let server = try ChildProcess(["python3", scriptPath, root, portFile, directory + "/log"],
                                      executable: URL(fileURLWithPath: "/usr/bin/env"), environment: .hermetic)
        guard server.wait(timeout: .seconds(60), until: { writtenPort() != nil }), let port = writtenPort() else {
            let result = server.waitForExit(killingAfter: .zero)
            throw FakeIMDSServer.StartError(description: "file_mirror.py did not start (status \(result.status)): \(result.stderr)")
        }
        self.server = server
        self.port = port
    }

    /// Fills mirror `name` with `files` (file name to bytes).
    /// - Throws: When a file cannot be written.
    func serve(_ name: String, _ files: [String: Data]) throws {
        let dir = root + "/" + name
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (file, bytes) in files { try bytes.write(to: URL(fileURLWithPath: dir + "/" + file)) }
    }

    /// Stops the server and removes its directory.
    func stop() {
        _ = server.waitForExit(killingAfter: .zero)
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { stop() }
}
