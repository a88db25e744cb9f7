import EC2Spot
import Foundation
import Testing

/// Behaviour tests of the HTTP stack (``AsyncHTTPClientTransport``) against scripted loopback
/// servers: framing, deadlines that cover the body, size caps enforced while streaming,
/// refusals before sending, and the instance-metadata restrictions.
@Suite struct AsyncHTTPClientTransportTests {
    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// The instance-metadata transport (direct, plain HTTP to address literals).
    private static let metadata = AsyncHTTPClientTransport.instanceMetadata()
    /// The AWS-endpoint transport without any proxy.
    private static let direct = AsyncHTTPClientTransport.aws(proxies: .direct)

    private func send(_ server: ScriptedHTTPServer, method: String = "GET", path: String = "/x",
                      headers: [String: String] = [:], body: Data = Data(),
                      timeout: Duration = .seconds(5),
                      transport: AsyncHTTPClientTransport = Self.metadata) async throws -> HTTPResponse {
        try await transport.send(HTTPRequest(method: method, url: URL(string: server.baseURL + path)!,
                                             headers: headers, body: body, timeout: timeout))
    }

    private func expectTransportError(_ kind: TransportError.Kind, containing fragment: String? = nil,
                                      _ operation: () async throws -> HTTPResponse) async {
        do {
            let response = try await operation()
            Issue.record("expected TransportError.\(kind), got status \(response.status)")
        } catch let error as TransportError {
            #expect(error.kind == kind, "\(error)")
            if let fragment { #expect(error.message.contains(fragment), "\(error)") }
        } catch {
            Issue.record("expected TransportError.\(kind), got \(error)")
        }
    }

    @Test func sendsHostContentLengthAndBody() async throws {
        let server = try ScriptedHTTPServer(.respond(bytes("HTTP/1.1 201 Created\r\nX-Thing: a\r\nContent-Length: 5\r\n\r\nhello")))
        defer { server.stop() }
        let response = try await send(server, method: "PUT", path: "/latest/api/token?q=1",
                                      headers: ["X-Custom": "v 1"], body: Data("abc".utf8))
        #expect(response.status == 201)
        #expect(response.headers["x-thing"] == "a")
        #expect(response.body == Data("hello".utf8))
        let request = try #require(server.receivedRequests.first)
        #expect(request.hasPrefix("PUT /latest/api/token?q=1 HTTP/1.1\r\n"))
        #expect(request.lowercased().contains("\r\nhost: 127.0.0.1:\(server.port)\r\n"))
        #expect(request.lowercased().contains("\r\ncontent-length: 3\r\n"))
        #expect(request.lowercased().contains("\r\nx-custom: v 1\r\n"))
        #expect(request.hasSuffix("\r\n\r\nabc"))
    }

    @Test func requestTargetKeepsTrailingSlashAndEscapes() async throws {
        let server = try ScriptedHTTPServer(.respond(bytes("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")))
        defer { server.stop() }
        _ = try await send(server, path: "/latest/meta-data/iam/security-credentials/")
        _ = try await send(server, path: "/a%20b/c?x=1%202")
        _ = try await send(server, path: "")
        let lines = server.receivedRequests.compactMap { $0.split(separator: "\r\n").first.map(String.init) }.sorted()
        #expect(lines == ["GET / HTTP/1.1", "GET /a%20b/c?x=1%202 HTTP/1.1",
                          "GET /latest/meta-data/iam/security-credentials/ HTTP/1.1"])
    }

    @Test func getWithoutBodySendsNoContentLength() async throws {
        let server = try ScriptedHTTPServer(.respond(bytes("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")))
        defer { server.stop() }
        let response = try await send(server)
        #expect(response.status == 200)
        #expect(response.body.isEmpty)
        let request = try #require(server.receivedRequests.first)
        #expect(!request.lowercased().contains("content-length"))
    }

    @Test func decodesChunkedBodyWithExtensionsAndTrailers() async throws {
        let raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: t\r\n\r\n"
        let server = try ScriptedHTTPServer(.respondInPieces([bytes(String(raw.prefix(30))), bytes(String(raw.dropFirst(30)))],
                                                             pauseMilliseconds: 20))
        defer { server.stop() }
        let response = try await send(server)
        #expect(String(decoding: response.body, as: UTF8.self) == "Wikipedia in\r\n\r\nchunks.")
    }

    @Test func readsBodyUntilCloseWithoutFraming() async throws {
        let server = try ScriptedHTTPServer(.respondInPieces([bytes("HTTP/1.0 200 OK\r\n\r\npart one, "), bytes("part two")],
                                                             pauseMilliseconds: 20))
        defer { server.stop() }
        let response = try await send(server)
        #expect(String(decoding: response.body, as: UTF8.self) == "part one, part two")
    }

    @Test func joinsRepeatedHeaders() async throws {
        let server = try ScriptedHTTPServer(.respond(bytes("HTTP/1.1 404 Not Found\r\nA: 1\r\nA: 2\r\nContent-Length: 3\r\n\r\nabc")))
        defer { server.stop() }
        let response = try await send(server)
        #expect(response.status == 404)
        #expect(response.headers["a"] == "1, 2")
        #expect(response.body == Data("abc".utf8))
    }

    @Test func skipsInterimContinueResponse() async throws {
        let server = try ScriptedHTTPServer(.respond(bytes("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")))
        defer { server.stop() }
        let response = try await send(server)
        #expect(response.status == 200)
        #expect(response.body == Data("ok".utf8))
    }

    @Test func connectsToLocalhost() async throws {
        let server = try ScriptedHTTPServer(.respond(bytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")))
        defer { server.stop() }
        let response = try await Self.metadata.send(HTTPRequest(method: "GET", url: URL(string: "http://localhost:\(server.port)/")!))
        #expect(response.body == Data("ok".utf8))
        #expect(try #require(server.receivedRequests.first).lowercased().contains("\r\nhost: localhost:\(server.port)\r\n"))
    }

    @Test(.enabled(if: ScriptedHTTPServer.ipv6LoopbackAvailable, "::1 cannot be bound here"))
    func connectsToIPv6Literal() async throws {
        let server = try ScriptedHTTPServer(.respond(bytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nv6")), ipv6: true)
        defer { server.stop() }
        let response = try await Self.metadata.send(HTTPRequest(method: "GET", url: URL(string: "http://[::1]:\(server.port)/a")!))
        #expect(response.body == Data("v6".utf8))
        #expect(try #require(server.receivedRequests.first).lowercased().contains("\r\nhost: [::1]:\(server.port)\r\n"))
    }

    @Test func metadataRejectsHTTPSWithoutConnecting() async {
        await expectTransportError(.unsupportedRequest, containing: "plain HTTP only") {
            try await Self.metadata.send(HTTPRequest(method: "GET", url: URL(string: "https://127.0.0.1:1/")!))
        }
    }

    @Test func metadataRejectsHostNamesWithoutResolvingThem() async {
        await expectTransportError(.unsupportedRequest, containing: "no DNS") {
            try await Self.metadata.send(HTTPRequest(method: "GET", url: URL(string: "http://metadata.invalid/")!))
        }
    }

    @Test func unsupportedSchemesAndInvalidMethodsAndHeadersAreRejectedBeforeSending() async throws {
        let server = try ScriptedHTTPServer(.respond(bytes("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")))
        defer { server.stop() }
        let cases: [(HTTPRequest, String)] = [
            (HTTPRequest(method: "GET", url: URL(string: "ftp://127.0.0.1:\(server.port)/")!), "http:// and https://"),
            (HTTPRequest(method: "GET", url: URL(string: server.baseURL + "/")!, headers: ["bad name": "1"]),
             "invalid header name"),
            (HTTPRequest(method: "G T", url: URL(string: server.baseURL + "/")!), "invalid HTTP method"),
        ]
        for (request, fragment) in cases {
            await expectTransportError(.unsupportedRequest, containing: fragment) { try await Self.direct.send(request) }
        }
        #expect(server.receivedRequests.isEmpty)
    }

    @Test func rejectsHeaderValuesThatWouldSplitTheRequest() async throws {
        let server = try ScriptedHTTPServer(.respond(bytes("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")))
        defer { server.stop() }
        await expectTransportError(.unsupportedRequest, containing: "control characters") {
            try await send(server, headers: ["x-a": "1\r\nx-injected: 2"])
        }
        #expect(server.receivedRequests.isEmpty)
    }

    @Test func refusedConnectionIsConnectionFailed() async {
        let port = unusedLoopbackPort()
        for transport in [Self.metadata, Self.direct] {
            await expectTransportError(.connectionFailed, containing: "127.0.0.1") {
                try await transport.send(HTTPRequest(method: "POST", url: URL(string: "http://127.0.0.1:\(port)/")!,
                                                     body: Data("Action=DescribeVolumes".utf8)))
            }
        }
    }

    @Test func silentServerTimesOut() async throws {
        let server = try ScriptedHTTPServer(.neverRespond)
        defer { server.stop() }
        await expectTransportError(.timedOut, containing: "127.0.0.1") {
            try await send(server, timeout: .milliseconds(150))
        }
    }

    @Test func fullAcceptQueueTimesOutWhileConnecting() async throws {
        let server = try ScriptedHTTPServer(.neverAccept)
        defer { server.stop() }
        server.occupyAcceptQueue(connections: 3)
        await expectTransportError(.timedOut, containing: "connecting") {
            try await send(server, timeout: .seconds(5),
                           transport: .instanceMetadata(connectTimeout: .milliseconds(150)))
        }
    }

    @Test func stalledBodyTimesOut() async throws {
        // The server holds the connection open after two of ten body bytes until the test ends,
        // so only the deadline can end the exchange, however late the scheduler runs it.
        let server = try ScriptedHTTPServer(.respondThenStall(bytes("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab")))
        defer { server.stop() }
        await expectTransportError(.timedOut) { try await send(server, timeout: .milliseconds(200)) }
    }

    @Test func cancellationAbortsTheExchange() async throws {
        let server = try ScriptedHTTPServer(.neverRespond)
        defer { server.stop() }
        let url = URL(string: server.baseURL + "/")!
        let task = Task {
            try await Self.metadata.send(HTTPRequest(method: "GET", url: url, timeout: .seconds(60)))
        }
        try await Task.sleep(for: .milliseconds(50))
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
    }

    @Test(arguments: [
        ("garbage\r\n\r\n", TransportError.Kind.invalidResponse),
        ("HTTP/1.1 2000 OK\r\n\r\n", .invalidResponse),
        ("HTTP/2 200 OK\r\n\r\n", .invalidResponse),
        ("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", .invalidResponse),
        ("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", .invalidResponse),
        ("HTTP/1.1 200 OK\r\n folded: x\r\n\r\n", .invalidResponse),
        ("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", .invalidResponse),
        ("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", .invalidResponse),
        ("HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\nab", .invalidResponse),
        ("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", .invalidResponse),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", .invalidResponse),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", .invalidResponse),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n", .invalidResponse),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", .invalidResponse),
        ("HTTP/1.1 101 Switching Protocols\r\n\r\n", .invalidResponse),
        ("HTTP/1.1 200 OK\r\nContent-Le", .invalidResponse),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffffffffffff\r\n", .invalidResponse),
        ("", .connectionFailed),
    ])
    func malformedResponsesAreRejected(raw: String, kind: TransportError.Kind) async throws {
        let server = try ScriptedHTTPServer(.respond(bytes(raw)))
        defer { server.stop() }
        await expectTransportError(kind) { try await send(server) }
    }

    @Test func bodyLimitIsEnforcedForEveryFraming() async throws {
        let transport = AsyncHTTPClientTransport.instanceMetadata(maximumResponseBytes: 16)
        let big = String(repeating: "x", count: 17)
        let framings = [
            "HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n\(big)",
            "HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n",
            "HTTP/1.1 200 OK\r\n\r\n\(big)",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n11\r\n\(big)\r\n0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\n\(big)",
        ]
        for raw in framings {
            let server = try ScriptedHTTPServer(.respond(bytes(raw)))
            defer { server.stop() }
            await expectTransportError(.responseTooLarge, containing: "limit") {
                try await send(server, transport: transport)
            }
        }
        let exact = try ScriptedHTTPServer(.respond(bytes("HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n" + String(big.dropLast()))))
        defer { exact.stop() }
        #expect(try await send(exact, transport: transport).body.count == 16)
    }

    /// A body that never ends but keeps arriving (one byte every 100 ms, so no idle timeout
    /// fires) fails with `timedOut` once the request's deadline has passed.
    @Test func tricklingBodyTimesOutAtTheDeadline() async throws {
        let server = try ScriptedHTTPServer(.trickle(head: bytes("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"),
                                                     intervalMilliseconds: 100))
        defer { server.stop() }
        for transport in [Self.metadata, Self.direct] {
            let outcome = try await withHangWatchdog(seconds: 30) {
                try await send(server, timeout: .seconds(3), transport: transport)
            }
            switch outcome {
            case .success(let response):
                Issue.record("expected timedOut, got status \(response.status)")
            case .failure(let error as TransportError):
                #expect(error.kind == .timedOut, "\(error)")
                #expect(error.message.contains("whole body"), "\(error)")
            case .failure(let error):
                Issue.record("expected TransportError.timedOut, got \(error)")
            }
        }
        #expect(server.bytesSent >= 2, "the server did trickle body bytes")
    }

    /// A body far larger than the cap is cut off while it streams: the client hangs up after
    /// about `maximumResponseBytes`, long before the server has written the whole body, for
    /// each framing that does not announce the size up front.
    @Test(arguments: ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"])
    func hugeBodyIsCappedWhileStreaming(head: String) async throws {
        let chunkSize = 64 << 10
        let count = 4096  // 256 MiB in all
        let payload = [UInt8](repeating: UInt8(ascii: "A"), count: chunkSize)
        let chunk = head.contains("chunked") ? bytes(String(chunkSize, radix: 16) + "\r\n") + payload + bytes("\r\n") : payload
        let server = try ScriptedHTTPServer(.stream(head: bytes(head), chunk: chunk, count: count))
        defer { server.stop() }
        let transport = AsyncHTTPClientTransport.aws(proxies: .direct, maximumResponseBytes: 1 << 20)
        let outcome = try await withHangWatchdog(seconds: 60) { try await send(server, timeout: .seconds(60), transport: transport) }
        guard case .failure(let error as TransportError) = outcome else {
            Issue.record("expected responseTooLarge, got \(outcome)")
            return
        }
        #expect(error.kind == .responseTooLarge, "\(error)")
        #expect(error.message.contains("limit of 1048576 bytes"), "\(error)")
        // The server stops when the client hangs up; socket buffers hold a few MiB at most.
        for _ in 0..<500 where server.clientHangUps == 0 { try await Task.sleep(for: .milliseconds(20)) }
        #expect(server.clientHangUps == 1)
        #expect(server.bytesSent < 64 << 20, "sent \(server.bytesSent) of \(chunk.count * count) bytes")
    }

    /// A request that states its own body limit (`HTTPRequest.maximumResponseBytes`, as
    /// `S3Client.getObject(maxBytes:)` does) is held to that limit instead of the transport's,
    /// lower or higher, for declared and streamed bodies alike.
    @Test func aRequestsOwnLimitReplacesTheTransportsLimit() async throws {
        let transport = AsyncHTTPClientTransport.aws(proxies: .direct, maximumResponseBytes: 16)
        let body = String(repeating: "x", count: 20)
        for raw in ["HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 20\r\n\r\n\(body)",
                    "HTTP/1.1 200 OK\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n14\r\n\(body)\r\n0\r\n\r\n"] {
            let server = try ScriptedHTTPServer(.respond(bytes(raw)))
            defer { server.stop() }
            func send(limit: Int?) async throws -> HTTPResponse {
                try await transport.send(HTTPRequest(method: "GET", url: URL(string: server.baseURL + "/x")!,
                                                     timeout: .seconds(5), maximumResponseBytes: limit))
            }
            await expectTransportError(.responseTooLarge, containing: "limit of 16 bytes") { try await send(limit: nil) }
            #expect(try await send(limit: 20).body.count == 20)
            await expectTransportError(.responseTooLarge, containing: "limit of 19 bytes") { try await send(limit: 19) }
        }
    }

    /// A `Content-Length` over the cap fails at once, before any of the body is read.
    @Test func declaredOversizeBodyFailsBeforeReading() async throws {
        let server = try ScriptedHTTPServer(.stream(head: bytes("HTTP/1.1 200 OK\r\nContent-Length: 2147483648\r\n\r\n"),
                                                    chunk: [UInt8](repeating: 65, count: 64 << 10), count: 32768))
        defer { server.stop() }
        await expectTransportError(.responseTooLarge, containing: "declares 2147483648 bytes") {
            try await send(server, timeout: .seconds(60), transport: Self.direct)
        }
        for _ in 0..<500 where server.clientHangUps == 0 { try await Task.sleep(for: .milliseconds(20)) }
        #expect(server.bytesSent < 64 << 20, "sent \(server.bytesSent) bytes")
    }

    /// The transport for AWS endpoints sends through the proxy the environment names (a
    /// `CONNECT` tunnel to the origin, then the request inside it), and straight to hosts
    /// `NO_PROXY` lists.
    @Test func awsTransportUsesTheProxyExceptForNoProxyHosts() async throws {
        let proxy = try ScriptedHTTPServer(.conversation([
            bytes("HTTP/1.1 200 Connection established\r\n\r\n"),
            bytes("HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nproxied"),
        ]))
        defer { proxy.stop() }
        let origin = try ScriptedHTTPServer(.respond(bytes("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\ndirect")))
        defer { origin.stop() }
        let transport = AsyncHTTPClientTransport.aws(environment: [
            "HTTP_PROXY": "http://127.0.0.1:\(proxy.port)", "NO_PROXY": "localhost,.internal.example",
        ])
        let viaProxy = try await transport.send(HTTPRequest(method: "GET", url: URL(string: "http://ec2.test-region.example/q?a=1")!))
        #expect(String(decoding: viaProxy.body, as: UTF8.self) == "proxied")
        let proxied = proxy.receivedRequests
        #expect(proxied.count == 2)
        #expect(try #require(proxied.first).hasPrefix("CONNECT ec2.test-region.example:80 HTTP/1.1\r\n"))
        #expect(try #require(proxied.last).hasPrefix("GET /q?a=1 HTTP/1.1\r\n"))
        let direct = try await transport.send(HTTPRequest(method: "GET", url: URL(string: "http://localhost:\(origin.port)/d")!))
        #expect(String(decoding: direct.body, as: UTF8.self) == "direct")
        #expect(proxy.receivedRequests.count == 2)
        #expect(origin.receivedRequests.count == 1)
    }

    /// An unusable proxy variable fails every request before anything is sent, naming the
    /// variable and never repeating the credentials in it.
    @Test func invalidProxyVariableFailsBeforeSendingWithoutLeakingCredentials() async throws {
        let transport = AsyncHTTPClientTransport.aws(environment: ["HTTPS_PROXY": "https://user:hunter2@proxy.example:3128"])
        await expectTransportError(.unsupportedRequest, containing: "HTTPS_PROXY") {
            try await transport.send(HTTPRequest(method: "GET", url: URL(string: "https://ec2.us-east-1.amazonaws.com/")!))
        }
        do {
            _ = try await transport.send(HTTPRequest(method: "GET", url: URL(string: "https://ec2.us-east-1.amazonaws.com/")!))
        } catch {
            #expect(!"\(error)".contains("hunter2"))
        }
    }

    /// An oversized response is not worth asking for again.
    @Test func oversizeResponsesAreNotRetried() {
        #expect(!RetryPolicy.standard.isRetryable(TransportError(.responseTooLarge, "x")))
        #expect(RetryPolicy.standard.isRetryable(TransportError(.timedOut, "x")))
    }
}

/// Runs `operation`, turning a hang of more than `seconds` into a recorded failure.
private func withHangWatchdog<T: Sendable>(seconds: Int, _ operation: @escaping @Sendable () async throws -> T)
    async throws -> Result<T, any Error> {
    try await withThrowingTaskGroup(of: Result<T, any Error>?.self) { group in
        group.addTask {
            do { return .success(try await operation()) } catch { return .failure(error) }
        }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let result = first else {
            Issue.record("hang: no result within \(seconds) s")
            return .failure(CancellationError())
        }
        return result
    }
}
