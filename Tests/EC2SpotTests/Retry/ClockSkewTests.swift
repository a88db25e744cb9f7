import EC2Spot
import Foundation
import Testing

/// A SigV4 rejection caused by the local clock is recognised from the response's `Date`
/// header, corrected, and retried once; if that fails too, the error says the clock is off.
@Suite struct ClockSkewTests {
    let ok = EC2XMLBodies.returnTrue("DeleteVolume")

    /// An HTTP date `seconds` after `date`.
    private func httpDate(_ date: Date, plus seconds: TimeInterval) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter.string(from: date.addingTimeInterval(seconds))
    }

    private func rejection(_ code: String, status: Int = 400, date: String?) -> ScriptedEC2Transport.Reply {
        var headers = ["Content-Type": "text/xml;charset=UTF-8"]
        if let date { headers["Date"] = date }
        return .response(HTTPResponse(status: status, headers: headers,
                                      body: Data(EC2XMLBodies.ec2Error(code: code, message: "Request has expired.").utf8)))
    }

    @Test(arguments: [("RequestExpired", 400, 1200.0), ("AuthFailure", 401, -1200.0), ("RequestTimeTooSkewed", 403, 600.0),
                      ("SignatureDoesNotMatch", 403, -400.0), ("InvalidSignatureException", 400, 3600.0),
                      ("RequestInTheFuture", 400, -900.0)])
    func skewRejectionIsCorrectedAndRetriedOnce(code: String, status: Int, skew: Double) async throws {
        let transport = ScriptedEC2Transport()
        let clock = EC2TestClock()
        transport.enqueue(rejection(code, status: status, date: httpDate(clock.now, plus: skew)))
        transport.enqueue(xml: ok)
        let client = EC2TestClient.make(transport, clock: clock)
        try await client.deleteVolume(volumeId: "vol-1")
        #expect(transport.requests.count == 2)
        #expect(clock.sleeps.isEmpty)
        #expect(client.clockCorrection.offset == skew)
        // The retry was signed with the corrected time.
        let dates = transport.requests.map { $0.headers["x-amz-date"] ?? "" }
        #expect(dates[0] == amzDate(clock.now))
        #expect(dates[1] == amzDate(clock.now.addingTimeInterval(skew)))
        // Later requests keep the correction.
        transport.enqueue(xml: ok)
        try await client.deleteVolume(volumeId: "vol-2")
        #expect(transport.requests[2].headers["x-amz-date"] == amzDate(clock.now.addingTimeInterval(skew)))
    }

    @Test func secondSkewRejectionSaysTheClockIsOff() async throws {
        let transport = ScriptedEC2Transport()
        let clock = EC2TestClock()
        transport.enqueue(rejection("RequestExpired", date: httpDate(clock.now, plus: 1200)))
        transport.enqueue(rejection("RequestExpired", date: httpDate(clock.now, plus: 2400)))
        transport.enqueue(xml: ok)
        let error = await #expect(throws: EC2Error.self) {
            try await EC2TestClient.make(transport, clock: clock).deleteVolume(volumeId: "vol-1")
        }
        #expect(transport.requests.count == 2)
        #expect(error?.code == "RequestExpired")
        #expect(error?.isClockSkew == true)
        let message = error?.message ?? ""
        #expect(message.hasPrefix("Request has expired.; the local clock appears to be 2400 seconds behind"), "\(message)")
        #expect(message.contains("NTP"))
    }

    @Test func authFailureWithoutSkewIsNotAClockProblem() async throws {
        let transport = ScriptedEC2Transport()
        let clock = EC2TestClock()
        transport.enqueue(rejection("AuthFailure", status: 401, date: httpDate(clock.now, plus: 30)))
        transport.enqueue(xml: ok)
        let error = await #expect(throws: EC2Error.self) {
            try await EC2TestClient.make(transport, clock: clock).deleteVolume(volumeId: "vol-1")
        }
        #expect(transport.requests.count == 1)
        #expect(error?.isClockSkew == false)
        #expect(error?.message.contains("clock") == false)
    }

    @Test func otherErrorsWithASkewedDateAreNotClockProblems() async throws {
        let transport = ScriptedEC2Transport()
        let clock = EC2TestClock()
        transport.enqueue(rejection("InvalidVolume.NotFound", date: httpDate(clock.now, plus: 1200)))
        let error = await #expect(throws: EC2Error.self) {
            try await EC2TestClient.make(transport, clock: clock).deleteVolume(volumeId: "vol-1")
        }
        #expect(error?.isClockSkew == false)
        #expect(transport.requests.count == 1)
    }

    @Test func timeRejectionWithoutDateHeaderStillMentionsTheClock() async throws {
        let transport = ScriptedEC2Transport()
        transport.enqueue(rejection("RequestExpired", date: nil))
        let error = await #expect(throws: EC2Error.self) {
            try await EC2TestClient.make(transport).deleteVolume(volumeId: "vol-1")
        }
        #expect(transport.requests.count == 1)
        #expect(error?.message.contains("local clock") == true)
    }

    @Test func unreadableDateHeaderIsNotASkew() {
        let now = Date(timeIntervalSince1970: 1_795_953_600)
        #expect(ClockSkewCorrection.skew(code: "RequestExpired", dateHeader: "yesterday", localNow: now) == nil)
        #expect(ClockSkewCorrection.skew(code: "RequestExpired", dateHeader: "", localNow: now) == nil)
        #expect(ClockSkewCorrection.skew(code: "RequestExpired", dateHeader: "Sun, 29 Nov 2026 12:20:00 GMT",
                                         localNow: now) == 1200)
        #expect(ClockSkewCorrection.skew(code: "RequestExpired", dateHeader: "Sun, 29 Nov 2026 12:03:00 GMT",
                                         localNow: now) == nil)
        // Two Date fields joined into one value (a server that sends its own after a default).
        #expect(ClockSkewCorrection.skew(code: "RequestExpired",
                                         dateHeader: "Sun, 29 Nov 2026 12:00:01 GMT, Sun, 29 Nov 2026 12:20:00 GMT",
                                         localNow: now) == 1200)
        #expect(ClockSkewCorrection.parseHTTPDate("Sunday, 29-Nov-26 12:00:00 GMT") == now)
        #expect(ClockSkewCorrection.parseHTTPDate("Sun Nov 29 12:00:00 2026") == now)
    }

    private func amzDate(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter.string(from: date)
    }
}
