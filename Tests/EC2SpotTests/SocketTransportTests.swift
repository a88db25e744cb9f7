import EC2Spot
import Foundation
import Testing

@Suite struct SocketTransportTests {
    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    private func send(_ server: ScriptedHTTPServer, method: String = "GET", path: String = "/x",
                      headers: [String: String] = [:], body: Data = Data(),
                      timeout: Duration = .seconds(5),
                      transport: SocketHTTPTransport = SocketHTTPTransport()) async throws -> HTTPResponse {
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

    @Test func sendsHostConnectionCloseContentLengthAndBody() async throws {
        let server = try ScriptedHTTPServer(.respond(bytes("HTTP/1.1 201 Created\r\nX-Thing: a\r\nContent-Length: 5\r\n\r\nhello")))
        defer { server.stop() }
        let response = try await send(server, method: "PUT", path: "/latest/api/token?q=1",
                                      headers: ["X-Custom": "v 1"], body: Data("abc".utf8))
        #expect(response.status == 201)
        #expect(response.headers["x-thing"] == "a")
        #expect(response.body == Data("hello".utf8))
        let request = try #require(server.receivedRequests.first)
        #expect(request.hasPrefix("PUT /latest/api/token?q=1 HTTP/1.1\r\n"))
        #expect(request.contains("\r\nhost: 127.0.0.1:\(server.port)\r\n"))
        #expect(request.contains("\r\nconnection: close\r\n"))
        #expect(request.contains("\r\ncontent-length: 3\r\n"))
        #expect(request.contains("\r\nx-custom: v 1\r\n"))
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

    @Test func acceptsBareLineFeedsAndRepeatedHeaders() async throws {
        let server = try ScriptedHTTPServer(.respond(bytes("HTTP/1.1 404 Not Found\nA: 1\nA: 2\nContent-Length: 3\n\nabc")))
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
        let transport = SocketHTTPTransport()
        let response = try await transport.send(HTTPRequest(method: "GET", url: URL(string: "http://localhost:\(server.port)/")!))
        #expect(response.body == Data("ok".utf8))
        #expect(try #require(server.receivedRequests.first).contains("\r\nhost: localhost:\(server.port)\r\n"))
    }

    @Test(.enabled(if: ScriptedHTTPServer.ipv6LoopbackAvailable, "::1 cannot be bound here"))
    func connectsToIPv6Literal() async throws {
        let server = try ScriptedHTTPServer(.respond(bytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nv6")), ipv6: true)
        defer { server.stop() }
        let transport = SocketHTTPTransport()
        let response = try await transport.send(HTTPRequest(method: "GET", url: URL(string: "http://[::1]:\(server.port)/a")!))
        #expect(response.body == Data("v6".utf8))
        #expect(try #require(server.receivedRequests.first).contains("\r\nhost: [::1]:\(server.port)\r\n"))
    }

    @Test func rejectsHTTPSWithoutConnecting() async {
        await expectTransportError(.unsupportedRequest, containing: "plain HTTP only") {
            try await SocketHTTPTransport().send(HTTPRequest(method: "GET", url: URL(string: "https://127.0.0.1:1/")!))
        }
    }

    @Test func rejectsHostNamesWithoutResolvingThem() async {
        await expectTransportError(.unsupportedRequest, containing: "no DNS") {
            try await SocketHTTPTransport().send(HTTPRequest(method: "GET", url: URL(string: "http://metadata.invalid/")!))
        }
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
        await expectTransportError(.connectionFailed) {
            try await SocketHTTPTransport().send(HTTPRequest(method: "GET", url: URL(string: "http://127.0.0.1:\(port)/")!))
        }
    }

    @Test func silentServerTimesOut() async throws {
        let server = try ScriptedHTTPServer(.neverRespond)
        defer { server.stop() }
        await expectTransportError(.timedOut, containing: "waiting for the response") {
            try await send(server, timeout: .milliseconds(150))
        }
    }

    @Test func fullAcceptQueueTimesOutWhileConnecting() async throws {
        let server = try ScriptedHTTPServer(.neverAccept)
        defer { server.stop() }
        server.occupyAcceptQueue(connections: 3)
        await expectTransportError(.timedOut, containing: "connecting") {
            try await send(server, timeout: .seconds(5),
                           transport: SocketHTTPTransport(connectTimeout: .milliseconds(150)))
        }
    }

    @Test func stalledBodyTimesOut() async throws {
        let server = try ScriptedHTTPServer(.respondInPieces([bytes("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab")],
                                                             pauseMilliseconds: 2000))
        defer { server.stop() }
        await expectTransportError(.timedOut) { try await send(server, timeout: .milliseconds(200)) }
    }

    @Test func cancellationAbortsTheExchange() async throws {
        let server = try ScriptedHTTPServer(.neverRespond)
        defer { server.stop() }
        let url = URL(string: server.baseURL + "/")!
        let task = Task {
            try await SocketHTTPTransport().send(HTTPRequest(method: "GET", url: url, timeout: .seconds(60)))
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
        ("", .connectionFailed),
    ])
    func malformedResponsesAreRejected(raw: String, kind: TransportError.Kind) async throws {
        let server = try ScriptedHTTPServer(.respond(bytes(raw)))
        defer { server.stop() }
        await expectTransportError(kind) { try await send(server) }
    }

    @Test func bodyLimitIsEnforcedForEveryFraming() async throws {
        let transport = SocketHTTPTransport(maximumBodyBytes: 16)
        let big = String(repeating: "x", count: 17)
        let framings = [
            "HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n\(big)",
            "HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n",
            "HTTP/1.1 200 OK\r\n\r\n\(big)",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n11\r\n\(big)\r\n0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffffffffffff\r\n",
        ]
        for raw in framings {
            let server = try ScriptedHTTPServer(.respond(bytes(raw)))
            defer { server.stop() }
            await expectTransportError(.invalidResponse, containing: "limit") {
                try await send(server, transport: transport)
            }
        }
        let exact = try ScriptedHTTPServer(.respond(bytes("HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n" + String(big.dropLast()))))
        defer { exact.stop() }
        #expect(try await send(exact, transport: transport).body.count == 16)
    }

    @Test func headerSectionLimitIsEnforced() async throws {
        let header = "X-Long: " + String(repeating: "h", count: 300) + "\r\n"
        let server = try ScriptedHTTPServer(.respond(bytes("HTTP/1.1 200 OK\r\n" + header + "Content-Length: 0\r\n\r\n")))
        defer { server.stop() }
        await expectTransportError(.invalidResponse, containing: "longer than") {
            try await send(server, transport: SocketHTTPTransport(maximumHeaderBytes: 256))
        }
    }
}
