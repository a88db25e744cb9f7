import EC2Spot
import Foundation
import Testing

/// Any HTTP 200 on `spot/instance-action` or `events/recommendations/rebalance` is a notice:
/// the decoders never throw, read what they can, and name the rest in warnings.
@Suite struct SpotNoticeDocumentTests {
    private let path = "/latest/meta-data/spot/instance-action"
    /// 2026-11-29T12:00:00Z.
    private let noon = Date(timeIntervalSince1970: 1_795_953_600)
    /// When the (test) document was received: 2026-11-29T11:58:00Z.
    private let received = Date(timeIntervalSince1970: 1_795_953_480)

    private func decode(_ body: String) -> SpotInstanceAction {
        SpotInstanceAction.decode(Data(body.utf8), path: path, receivedAt: received)
    }

    @Test func wellFormedDocumentHasNoWarnings() {
        let action = decode(#"{"action":"stop","time":"2026-11-29T12:00:00Z"}"#)
        #expect(action == SpotInstanceAction(action: .stop, time: noon))
    }

    @Test(arguments: [
        ("Terminate", SpotInstanceAction.Action.terminate), ("TERMINATE", .terminate), ("Stop", .stop),
        (" hibernate ", .hibernate), ("HiBeRnAtE", .hibernate),
    ])
    func actionIsReadInAnyCase(text: String, expected: SpotInstanceAction.Action) {
        let action = decode(#"{"action":"\#(text)","time":"2026-11-29T12:00:00Z"}"#)
        #expect(action.action == expected)
        #expect(action.time == noon && !action.isTimeEstimated)
        #expect(action.warnings.count == 1 && action.warnings[0].contains("documented lower case"))
    }

    @Test(arguments: [
        #"{"action":"explode","time":"2026-11-29T12:00:00Z"}"#, #"{"action":"","time":"2026-11-29T12:00:00Z"}"#,
        #"{"action":null,"time":"2026-11-29T12:00:00Z"}"#, #"{"action":7,"time":"2026-11-29T12:00:00Z"}"#,
        #"{"action":["stop"],"time":"2026-11-29T12:00:00Z"}"#, #"{"time":"2026-11-29T12:00:00Z"}"#,
    ])
    func unknownOrMissingActionCountsAsTerminate(body: String) {
        let action = decode(body)
        #expect(action.action == .terminate)
        #expect(action.time == noon && !action.isTimeEstimated)
        #expect(action.warnings.count == 1 && action.warnings[0].contains("treated as terminate"), "\(action.warnings)")
    }

    @Test(arguments: [
        (#""Sun, 29 Nov 2026 12:00:00 GMT""#, "RFC 1123"),
        (#""2026-11-29T12:00:00""#, "no time zone"),
        (#""2026-11-29 12:00:00""#, "no time zone"),
        (#""2026-11-29T13:00:00+01:00""#, nil),
        (#""2026-11-29T12:00:00.000000Z""#, nil),
        (#""2026-11-29t12:00:00z""#, nil),
        ("1795953600", "epoch seconds"),
        ("1795953600000", "epoch milliseconds"),
        (#""1795953600""#, "epoch seconds"),
    ] as [(String, String?)])
    func timeInOtherFormsIsRead(time: String, form: String?) {
        let action = decode(#"{"action":"terminate","time":\#(time)}"#)
        #expect(action.action == .terminate)
        #expect(action.time == noon, "\(time) → \(action.time)")
        #expect(!action.isTimeEstimated)
        if let form {
            #expect(action.warnings.count == 1 && action.warnings[0].contains(form), "\(action.warnings)")
        }
    }

    @Test(arguments: [
        #"{"action":"terminate","time":"soon"}"#, #"{"action":"terminate","time":""}"#,
        #"{"action":"terminate","time":null}"#, #"{"action":"terminate","time":true}"#,
        #"{"action":"terminate","time":{"at":1}}"#, #"{"action":"terminate","time":-5}"#,
        #"{"action":"terminate","time":"2026-13-45T99:00:00Z"}"#, #"{"action":"terminate"}"#,
        #"{"action":"terminate","time":"2026-11-29T12:00:00Z"#, "[1,2]", "\"terminate\"", "null", "42",
        "not json", "", "  \n", "<html>oops</html>", "\u{0}\u{1}\u{2}",
    ])
    func unreadableDocumentIsATerminateDueOnReceipt(body: String) {
        let action = decode(body)
        #expect(action.action == .terminate)
        #expect(action.time == received)
        #expect(action.isTimeEstimated)
        #expect(!action.warnings.isEmpty)
        #expect(action.warnings.allSatisfy { $0.hasPrefix(path + ": ") })
        #expect(action.warnings.contains { $0.contains("2026-11-29T11:58:00Z") }, "\(action.warnings)")
    }

    @Test func hugeBodyIsANoticeWithoutBeingParsed() {
        let body = Data(#"{"action":"stop","time":"2026-11-29T12:00:00Z","pad":""#.utf8)
            + Data(repeating: UInt8(ascii: "x"), count: 1 << 20) + Data(#""}"#.utf8)
        let action = SpotInstanceAction.decode(body, path: path, receivedAt: received)
        #expect(action.action == .terminate && action.time == received && action.isTimeEstimated)
        #expect(action.warnings.first?.contains("too large") == true)
    }

    @Test func deeplyNestedBodyIsANotice() {
        let body = String(repeating: "[", count: 50_000) + String(repeating: "]", count: 50_000)
        let action = decode(body)
        #expect(action.action == .terminate && action.isTimeEstimated)
    }

    @Test func warningsQuoteAtMostAShortExcerpt() {
        let action = decode(#"{"action":"terminate","time":"\#(String(repeating: "y", count: 5000))"}"#)
        #expect(action.isTimeEstimated)
        #expect(action.warnings.allSatisfy { $0.count < 400 })
    }

    @Test(arguments: [
        #"{"noticeTime":"soon"}"#, #"{}"#, "", "not json", #"{"noticeTime":null}"#, "[]",
    ])
    func unreadableRebalanceDocumentIsARecommendationOnReceipt(body: String) {
        let recommendation = RebalanceRecommendation.decode(Data(body.utf8), path: "/r", receivedAt: received)
        #expect(recommendation.noticeTime == received)
        #expect(recommendation.isTimeEstimated)
        #expect(!recommendation.warnings.isEmpty)
    }

    @Test func rebalanceTimeInAnotherFormIsRead() {
        let recommendation = RebalanceRecommendation.decode(Data(#"{"noticeTime":"Sun, 29 Nov 2026 12:00:00 GMT"}"#.utf8),
                                                            path: "/r", receivedAt: received)
        #expect(recommendation.noticeTime == noon && !recommendation.isTimeEstimated)
        #expect(recommendation.warnings.count == 1)
    }

    @Test func estimatedNoticeSaysSoInItsJSONLine() {
        let notice = InterruptionNotice(decode("garbage"))
        #expect(notice.jsonLine == #"{"kind":"terminate","time":"2026-11-29T11:58:00Z","time_estimated":true}"#)
        #expect(notice.deadline == received)
        #expect(notice.isInterruption)
    }
}
