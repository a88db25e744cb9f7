import EC2Spot
import Foundation
import Testing
#if canImport(Glibc)
import Glibc

@Suite struct URLSessionTransportTests {
    /// A loopback port nothing listens on (bound, then closed).
    static func closedLoopbackPort() -> Int? {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { return nil }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(socket, generic, length) == 0 && getsockname(socket, generic, &length) == 0
            }
        }
        return bound ? Int(UInt16(bigEndian: address.sin_port)) : nil
    }

    @Test func refusedConnectionIsATransportError() async throws {
        let port = try #require(Self.closedLoopbackPort())
        let request = HTTPRequest(method: "POST", url: URL(string: "http://127.0.0.1:\(port)/")!,
                                  body: Data("Action=DescribeVolumes".utf8), timeout: .seconds(5))
        let error = await #expect(throws: TransportError.self) { try await URLSessionTransport().send(request) }
        #expect(error?.kind == .connectionFailed)
        #expect(error?.message.contains("127.0.0.1") == true)
    }

    @Test func unsupportedSchemesAndHeaderInjectionAreRejectedBeforeSending() async throws {
        let port = try #require(Self.closedLoopbackPort())
        let cases: [(HTTPRequest, String)] = [
            (HTTPRequest(method: "GET", url: URL(string: "ftp://127.0.0.1:\(port)/")!), "http:// and https://"),
            (HTTPRequest(method: "GET", url: URL(string: "http://127.0.0.1:\(port)/")!,
                         headers: ["x-a": "1\r\nx-injected: 2"]), "control characters"),
            (HTTPRequest(method: "GET", url: URL(string: "http://127.0.0.1:\(port)/")!,
                         headers: ["bad name": "1"]), "invalid header name"),
            (HTTPRequest(method: "G T", url: URL(string: "http://127.0.0.1:\(port)/")!), "invalid HTTP method"),
        ]
        for (request, fragment) in cases {
            let error = await #expect(throws: TransportError.self) { try await URLSessionTransport().send(request) }
            #expect(error?.kind == .unsupportedRequest, "\(String(describing: error))")
            #expect(error?.message.contains(fragment) == true, "\(String(describing: error))")
        }
    }
}
#endif
