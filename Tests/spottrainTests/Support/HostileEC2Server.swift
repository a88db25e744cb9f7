import Foundation

/// A loopback fake EC2 endpoint (a small Python server written to a temporary directory)
/// that misbehaves in one of a few ways:
///
/// - `reflect-error`: every request gets `400 InvalidParameterValue` whose `<Message>` echoes
///   all request headers (the security token included), followed by 3000 filler characters.
/// - `reflect-tag`: `DescribeVolumes` succeeds with one volume whose `Name` tag echoes the
///   request's `X-Amz-Security-Token`.
/// - `skew:SECONDS[:CODE:STATUS]`: the server's clock is SECONDS ahead; a request whose
///   `X-Amz-Date` is more than 300 s off its clock gets CODE (default `RequestExpired`, 400)
///   with the server's `Date` header; otherwise `DescribeVolumes` succeeds with no volumes.
///   `skew-always:SECONDS` rejects every request the same way (a clock that cannot be fixed).
final class HostileEC2Server: @unchecked Sendable {
    let port: Int
    private let server: ChildProcess
    private let directory: String

    /// The endpoint to pass as `--endpoint`.
    var endpoint: String { "http://127.0.0.1:\(port)" }

    /// Requests served so far (one line each in the server's log).
    var requestCount: Int {
        ((try? String(contentsOfFile: directory + "/log", encoding: .utf8)) ?? "").split(separator: "\n").count
    }

    static let script = #"""
import datetime, os, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
MODE, PORTFILE, LOG = sys.argv[1], sys.argv[2], sys.argv[3]
def esc(s): return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
def err(code, msg): return '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors><RequestID>qa</RequestID></Response>' % (code, esc(msg))
def volumes(items): return '<DescribeVolumesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><volumeSet>%s</volumeSet></DescribeVolumesResponse>' % items
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def reply(self, status, body, date=None):
        b = body.encode(); self.send_response(status)
        self.send_header("Content-Type", "text/xml;charset=UTF-8"); self.send_header("Content-Length", str(len(b)))
        if date is not None: self.send_header("Date", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(date)))
        self.end_headers(); self.wfile.write(b)
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", "0")))
        with open(LOG, "a") as f: f.write("%s\n" % self.headers.get("x-amz-date"))
        parts = MODE.split(":")
        if parts[0] == "reflect-error":
            echoed = " ".join("%s=%s" % (k, v) for k, v in self.headers.items())
            return self.reply(400, err("InvalidParameterValue", "bad request; headers: " + echoed + " " + "x" * 3000))
        if parts[0] == "reflect-tag":
            token = self.headers.get("x-amz-security-token", "")
            item = ('<item><volumeId>vol-1</volumeId><size>1</size><availabilityZone>us-east-1a</availabilityZone><status>available</status>'
                    '<createTime>2026-11-29T10:00:00.000Z</createTime><attachmentSet/><tagSet><item><key>Name</key><value>%s</value></item></tagSet>'
                    '<volumeType>gp3</volumeType><encrypted>false</encrypted></item>') % esc("echo " + token)
            return self.reply(200, volumes(item))
        skew = float(parts[1]); server_now = time.time() + skew
        code = parts[2] if len(parts) > 2 else "RequestExpired"; status = int(parts[3]) if len(parts) > 3 else 400
        amz = datetime.datetime.strptime(self.headers["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()
        if parts[0] == "skew-always" or abs(amz - server_now) > 300:
            return self.reply(status, err(code, "Request has expired."), date=server_now)
        return self.reply(200, volumes(""), date=server_now)
srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
open(PORTFILE + ".tmp", "w").write(str(srv.server_address[1])); os.rename(PORTFILE + ".tmp", PORTFILE)
srv.serve_forever()
"""#

    /// Starts the server in `mode` and waits (at most a minute) for its port.
    /// - Parameter mode: See the type's discussion.
    /// - Throws: When the server does not start.
    init(mode: String) throws {
        directory = try Fixtures.temporaryDirectory()
        let scriptPath = directory + "/hostile_ec2.py"
        try Self.script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        let portFile = directory + "/port"
        func writtenPort() -> Int? {
            (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        let server = try ChildProcess(["python3", scriptPath, mode, portFile, directory + "/log"],
                                      executable: URL(fileURLWithPath: "/usr/bin/env"), environment: .hermetic)
        guard server.wait(timeout: .seconds(60), until: { writtenPort() != nil }), let port = writtenPort() else {
            let result = server.waitForExit(killingAfter: .zero)
            throw FakeIMDSServer.StartError(description: "hostile_ec2.py did not start (status \(result.status)): \(result.stderr)")
        }
        self.server = server
        self.port = port
    }

    /// Stops the server and removes its directory.
    func stop() {
        _ = server.waitForExit(killingAfter: .zero)
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { stop() }
}
