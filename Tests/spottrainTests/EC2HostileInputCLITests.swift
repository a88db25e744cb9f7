import Foundation
import Testing

/// `spottrain ec2 …` and `train --spot` against servers that misbehave: an IMDS notice that
/// cannot be fully read, an EC2 endpoint that echoes secrets, a server clock 20 minutes off.
@Suite(.enabled(if: FakeIMDSServer.isAvailable, "needs python3 for the loopback fake servers"))
struct EC2HostileInputCLITests {
    static let token = "IQoJb3JpZ2luX2VjTOKENSHOULDNOTLEAK" + String(repeating: "Zm9vYmFy", count: 20)
    static let secret = "SECRETSHOULDNOTLEAKwJalrXUtnFEMIK7MDENG"

    static var credentials: ChildProcess.Environment {
        .hermetic(overriding: ["AWS_ACCESS_KEY_ID": "AKIAQAATTACKTEST0001", "AWS_SECRET_ACCESS_KEY": secret,
                               "AWS_SESSION_TOKEN": token])
    }

    /// Every 8-character run of the secret or the token still in `text`.
    static func leakedFragments(_ text: String) -> [String] {
        [secret, token].flatMap { value -> [String] in
            let characters = Array(value)
            return (0...(characters.count - 8)).map { String(characters[$0..<$0 + 8]) }.filter { text.contains($0) }
        }
    }

    /// Runs `spottrain` with a hang watchdog (a hang becomes a killed child, not a stuck test).
    static func run(_ arguments: [String], environment: ChildProcess.Environment) async throws -> ChildProcess.Result {
        try await ChildProcess(arguments, environment: environment).exited(killingAfter: .seconds(60))
    }

    // MARK: - Interruption notices fail safe

    @Test(arguments: [#"{"action": "terminate", "time": "soon"}"#, #"{"action": "stop", "time": ""}"#])
    func watchOnceTakesANoticeWithAnUnreadableTimeAsDueNow(control: String) async throws {
        let imds = try FakeIMDSServer()
        try imds.control("interrupt", control)
        let result = try await Self.run(["ec2", "watch", "--once", "--no-rebalance", "--poll-interval", "0.1",
                                                 "--imds-endpoint", imds.endpoint], environment: .hermetic)
        imds.stop()
        #expect(result.status == 0, "\(result.stderr)")
        let line = try #require(result.stdout.split(separator: "\n").first.map(String.init))
        let notice = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(notice["time_estimated"] as? Bool == true)
        let time = try #require((notice["time"] as? String).flatMap { try? Date($0, strategy: .iso8601) })
        #expect(abs(time.timeIntervalSinceNow) < 600)
        #expect(result.stderr.contains("warning: IMDS notice document:"), "\(result.stderr)")
        #expect(result.stderr.contains("earliest plausible"), "\(result.stderr)")
    }

    @Test func watchOnceReadsAnRFC1123Time() async throws {
        let imds = try FakeIMDSServer()
        try imds.control("interrupt", #"{"action": "terminate", "time": "Sun, 29 Nov 2026 12:00:00 GMT"}"#)
        let result = try await Self.run(["ec2", "watch", "--once", "--no-rebalance", "--poll-interval", "0.1",
                                                 "--imds-endpoint", imds.endpoint], environment: .hermetic)
        imds.stop()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == #"{"kind":"terminate","time":"2026-11-29T12:00:00Z"}"# + "\n")
        #expect(result.stderr.contains("RFC 1123"), "\(result.stderr)")
    }

    @Test func watchBacksOffWarningsPerEndpoint() async throws {
        // instance-action fails on every poll while rebalance answers 404: the warnings must
        // back off (1, 2, 4, 8, … in a row), not repeat on every poll.
        let imds = try FakeIMDSServer()
        try imds.control("fail", #"{"count": 1000, "status": 500, "path_prefix": "/latest/meta-data/spot"}"#)
        let watch = try ChildProcess(["ec2", "watch", "--poll-interval", "0.02", "--imds-endpoint", imds.endpoint],
                                     environment: .hermetic)
        #expect(watch.wait(timeout: .seconds(60)) { watch.stderr.contains("(16 in a row") }, "\(watch.stderr)")
        let result = await watch.exited(killingAfter: .zero)
        imds.stop()
        let warnings = result.stderr.split(separator: "\n").filter { $0.contains("IMDS check spot/instance-action") }
        let streaks = warnings.compactMap { line -> Int? in
            line.range(of: "failed (").flatMap { Int(line[$0.upperBound...].prefix { $0.isNumber }) }
        }
        #expect(Array(streaks.prefix(5)) == [1, 2, 4, 8, 16], "\(result.stderr)")
    }

    // MARK: - Clock skew

    @Test(arguments: ["skew:1200", "skew:-1200:AuthFailure:401"])
    func skewedClockIsCorrectedAndTheRequestRetriedOnce(mode: String) async throws {
        let server = try HostileEC2Server(mode: mode)
        let result = try await Self.run(["ec2", "describe-volumes", "--region", "us-east-1",
                                                 "--endpoint", server.endpoint], environment: .hermetic)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == #"{"volumes":[]}"# + "\n")
        #expect(server.requestCount == 2)
        let skew = try #require(Self.reportedSkew(result.stderr), "\(result.stderr)")
        #expect(abs(skew - 1200) <= 5)
        #expect(result.stderr.hasPrefix("spottrain: warning: the local clock appears to be"), "\(result.stderr)")
        server.stop()
    }

    @Test(arguments: [("skew-always:1200", "behind"), ("skew-always:-1200:AuthFailure:401", "ahead of")])
    func clockThatCannotBeCorrectedIsNamedInTheError(mode: String, direction: String) async throws {
        let server = try HostileEC2Server(mode: mode)
        let result = try await Self.run(["ec2", "describe-volumes", "--region", "us-east-1",
                                                 "--endpoint", server.endpoint], environment: .hermetic)
        #expect(result.status == 1)
        let error = try #require(result.stderrLines.last.map(String.init))
        #expect(error.hasPrefix("spottrain: error: "), "\(result.stderr)")
        #expect(error.contains("seconds \(direction) the server's"), "\(result.stderr)")
        #expect(error.contains("a retry signed with the corrected time was rejected too"))
        #expect(error.contains("NTP"))
        let skew = try #require(Self.reportedSkew(error), "\(error)")
        #expect(abs(skew - 1200) <= 5)
        #expect(server.requestCount == 2)
        server.stop()
    }

    /// N in "the local clock appears to be N seconds".
    static func reportedSkew(_ text: String) -> Int? {
        text.range(of: "the local clock appears to be ").flatMap { Int(text[$0.upperBound...].prefix { $0.isNumber }) }
    }

    // MARK: - Secrets never reach output

    @Test func errorEchoingTheRequestHeadersIsPrintedWithoutSecrets() async throws {
        let server = try HostileEC2Server(mode: "reflect-error")
        let result = try await Self.run(["ec2", "describe-volumes", "--region", "us-east-1",
                                                 "--endpoint", server.endpoint], environment: Self.credentials)
        server.stop()
        #expect(result.status == 1)
        #expect(result.stderr.contains("InvalidParameterValue"), "\(result.stderr)")
        #expect(result.stderr.contains("<redacted>"), "\(result.stderr)")
        #expect(Self.leakedFragments(result.stderr + result.stdout).isEmpty, "\(result.stderr)")
    }

    @Test func resultEchoingTheTokenIsPrintedWithoutIt() async throws {
        let server = try HostileEC2Server(mode: "reflect-tag")
        let result = try await Self.run(["ec2", "describe-volumes", "--region", "us-east-1",
                                                 "--endpoint", server.endpoint], environment: Self.credentials)
        server.stop()
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains(#""Name":"echo <redacted>""#), "\(result.stdout)")
        #expect(Self.leakedFragments(result.stderr + result.stdout).isEmpty, "\(result.stdout)")
    }
}

/// `train --spot` honours a spot notice whose time cannot be read: it checkpoints and exits 75.
@Suite(.enabled(if: Fixtures.mnistDirectory != nil, "needs the real MNIST (Data/mnist, SPOTTRAIN_MNIST_DIR or ../shared/data/mnist)"),
       .enabled(if: FakeIMDSServer.isAvailable, "needs python3 for Scripts/fake_imds.py"))
struct SpotNoticeUnreadableTimeCLITests {
    @Test(arguments: ["Sun, 29 Nov 2099 12:00:00 GMT", "soon"])
    func trainSpotCheckpointsAndStopsOnANoticeWithAnOddTime(time: String) async throws {
        let imds = try FakeIMDSServer()
        try imds.control("interrupt", #"{"action": "terminate", "time": "\#(time)"}"#)
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let arguments = SpotInterruptionCLITests.arguments(checkpointDir: root + "/ck", summary: root + "/s.json")
            + SpotInterruptionCLITests.spotArguments(imds.endpoint)
        let result = try await EC2HostileInputCLITests.run(arguments, environment: .loopbackIMDS(imds.endpoint))
        imds.stop()
        #expect(result.status == 75, "\(result.stderr)")
        let summary = try Fixtures.summary(root + "/s.json")
        #expect(summary["status"] as? String == "interrupted")
        let interruption = try #require(summary["interruption"] as? [String: Any])
        #expect(interruption["outcome"] as? String == "saved", "\(interruption)")
        #expect(interruption["kind"] as? String == "terminate")
        #expect(result.stderr.contains("warning: IMDS notice document:"), "\(result.stderr)")
    }
}
