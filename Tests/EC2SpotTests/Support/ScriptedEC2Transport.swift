import EC2Spot
import Foundation
import Testing

/// A fake ``HTTPTransport``: returns queued responses (per EC2 action, or in plain order)
/// and records every request it receives. Nothing goes over the network.
final class ScriptedEC2Transport: HTTPTransport, @unchecked Sendable {
    enum Reply {
        case response(HTTPResponse)
        case failure(TransportError)
    }

    private let lock = NSLock()
    private var byAction: [String: [Reply]] = [:]
    private var inOrder: [Reply] = []
    private var recorded: [HTTPRequest] = []

    /// Queues a reply for the next request with this `Action` (or for any request when nil).
    func enqueue(_ reply: Reply, for action: String? = nil) {
        lock.withLock {
            if let action { byAction[action, default: []].append(reply) } else { inOrder.append(reply) }
        }
    }

    func enqueue(status: Int = 200, xml: String, for action: String? = nil) {
        enqueue(.response(HTTPResponse(status: status, headers: ["Content-Type": "text/xml;charset=UTF-8"],
                                       body: Data(xml.utf8))), for: action)
    }

    var requests: [HTTPRequest] { lock.withLock { recorded } }

    /// The `Action` of every request, in order.
    var actions: [String] { requests.map { Self.parameters($0)["Action"] ?? "?" } }

    /// Replies still queued (a test that expects all to be used checks this is 0).
    var pending: Int { lock.withLock { inOrder.count + byAction.values.reduce(0) { $0 + $1.count } } }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let action = Self.parameters(request)["Action"] ?? ""
        let reply: Reply? = lock.withLock {
            recorded.append(request)
            if var queue = byAction[action], !queue.isEmpty {
                let first = queue.removeFirst()
                byAction[action] = queue
                return first
            }
            return inOrder.isEmpty ? nil : inOrder.removeFirst()
        }
        switch reply {
        case .response(let response): return response
        case .failure(let error): throw error
        case nil:
            Issue.record("ScriptedEC2Transport: no reply queued for \(action)")
            throw TransportError(.connectionFailed, "no reply queued for \(action)")
        }
    }

    /// The decoded form parameters of a request, in order.
    static func parameterList(_ request: HTTPRequest) -> [(String, String)] {
        let body = String(decoding: request.body, as: UTF8.self)
        guard !body.isEmpty else { return [] }
        return body.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (text: Substring) in String(text).removingPercentEncoding ?? String(text) }
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
    }

    static func parameters(_ request: HTTPRequest) -> [String: String] {
        Dictionary(parameterList(request), uniquingKeysWith: { first, _ in first })
    }
}

/// A clock whose time only moves when something sleeps on it; records every sleep.
final class EC2TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date
    private var slept: [Duration] = []

    init(start: Date = Date(timeIntervalSince1970: 1_717_243_200)) { current = start }

    var sleeps: [Duration] { lock.withLock { slept } }
    var now: Date { lock.withLock { current } }

    var clock: EC2Clock {
        EC2Clock(now: { [self] in now }, sleep: { [self] duration in
            let parts = duration.components
            lock.withLock {
                slept.append(duration)
                current += Double(parts.seconds) + Double(parts.attoseconds) / 1e18
            }
        })
    }
}

enum EC2TestClient {
    static let credentials = AWSCredentials(accessKeyId: "AKIDTEST", secretAccessKey: "test/secret+key")

    /// A client on a scripted transport with a manual clock; jitter fixed at 1/2.
    static func make(_ transport: ScriptedEC2Transport, clock: EC2TestClock = EC2TestClock(),
                     retry: RetryPolicy = RetryPolicy(maxAttempts: 4, baseDelay: .seconds(1), maxDelay: .seconds(8),
                                                      random: { 0.5 })) -> EC2Client {
        EC2Client(region: "us-east-1", endpoint: URL(string: "https://ec2.us-east-1.amazonaws.com")!,
                  credentialsProvider: StaticCredentialsProvider(credentials), transport: transport,
                  clock: clock.clock, retryPolicy: retry)
    }
}
