import EC2Spot
import Foundation

/// Forwards requests to a real transport and "kills the process" after the Nth call: that
/// call reaches the server (its effect happens) but its response is lost, and every later
/// call fails without being sent. Counts and names the calls it forwarded.
final class FaultInjectingTransport: HTTPTransport, @unchecked Sendable {
    private let lock = NSLock()
    private let inner: any HTTPTransport
    private let failAfter: Int?
    private var sent: [String] = []

    /// - Parameters:
    ///   - inner: The transport that reaches the server.
    ///   - failAfter: The call (1-based) after which the process "dies"; nil: never.
    init(_ inner: any HTTPTransport, failAfter: Int?) {
        self.inner = inner
        self.failAfter = failAfter
    }

    /// The EC2 actions forwarded so far, in order.
    var actions: [String] { lock.withLock { sent } }

    /// Whether the fault has fired.
    var fired: Bool { lock.withLock { failAfter.map { sent.count >= $0 } ?? false } }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let action = Self.action(request)
        let index: Int? = lock.withLock {
            if let failAfter, sent.count >= failAfter { return nil }
            sent.append(action)
            return sent.count
        }
        guard let index else {
            throw TransportError(.connectionFailed, "injected: the process died before \(action)")
        }
        let response = try await inner.send(request)
        if let failAfter, index == failAfter {
            throw TransportError(.connectionFailed, "injected: the process died after \(action) (call \(index))")
        }
        return response
    }

    static func action(_ request: HTTPRequest) -> String {
        let body = String(decoding: request.body, as: UTF8.self)
        for pair in body.split(separator: "&") where pair.hasPrefix("Action=") {
            return String(pair.dropFirst("Action=".count))
        }
        return request.method
    }
}
