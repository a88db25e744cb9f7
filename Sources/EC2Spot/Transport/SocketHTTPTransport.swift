import Dispatch
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A plain-HTTP/1.1 transport on POSIX sockets, for the instance-metadata service (IMDS) and
/// local test servers.
///
/// Why not `URLSession`: FoundationNetworking on Linux honours `http_proxy`/`HTTP_PROXY` even
/// for loopback and link-local addresses such as IMDS, and it rounds timeouts down to whole
/// seconds. This transport has no proxy support at all, so a request always goes straight
/// to the host in its URL: it opens its own TCP socket to that address (an IPv4 or IPv6
/// literal, or `localhost`), never reads any proxy variable, and never resolves a name
/// through DNS. Timeouts have millisecond precision (non-blocking `connect` plus `poll`).
///
/// Each request uses one connection (`Connection: close`). Responses may be framed by
/// `Content-Length`, `Transfer-Encoding: chunked`, or the end of the connection; bodies
/// larger than ``maximumBodyBytes`` and header sections larger than ``maximumHeaderBytes``
/// are rejected before they are buffered, and no buffer is ever sized from a header field.
///
/// The blocking socket work runs on a dedicated dispatch queue, never on Swift's
/// cooperative thread pool. Cancelling the calling task aborts the exchange within a few
/// milliseconds with `CancellationError`.
public struct SocketHTTPTransport: HTTPTransport {
    /// The largest response body accepted, in bytes.
    public var maximumBodyBytes: Int
    /// The largest response header section (status line and header fields) accepted, in bytes.
    public var maximumHeaderBytes: Int
    /// The longest time allowed for establishing the TCP connection, or `nil` to let the
    /// connection use up the request's whole timeout. The request's own timeout always
    /// bounds the whole exchange as well.
    public var connectTimeout: Duration?

    /// Creates a transport.
    /// - Parameters:
    ///   - maximumBodyBytes: The largest response body accepted (default 1 MiB); must be
    ///     positive.
    ///   - maximumHeaderBytes: The largest header section accepted (default 64 KiB); must be
    ///     positive.
    ///   - connectTimeout: An optional separate bound on connection establishment.
    public init(maximumBodyBytes: Int = 1 << 20, maximumHeaderBytes: Int = 64 << 10,
                connectTimeout: Duration? = nil) {
        precondition(maximumBodyBytes > 0, "maximumBodyBytes must be positive, got \(maximumBodyBytes)")
        precondition(maximumHeaderBytes > 0, "maximumHeaderBytes must be positive, got \(maximumHeaderBytes)")
        self.maximumBodyBytes = maximumBodyBytes
        self.maximumHeaderBytes = maximumHeaderBytes
        self.connectTimeout = connectTimeout
    }

    /// The queue that runs blocking socket calls, away from the cooperative thread pool.
    private static let ioQueue = DispatchQueue(label: "EC2Spot.SocketHTTPTransport.io",
                                               qos: .userInitiated, attributes: .concurrent)

    /// Sends `request` over a new plain-TCP connection and returns the response, whatever its
    /// status.
    /// - Parameter request: The request; its URL must use the `http` scheme and an IPv4 or
    ///   IPv6 literal host or `localhost`. `request.timeout` bounds the whole exchange.
    /// - Returns: The parsed response, with lowercase header names and the decoded body.
    /// - Throws: ``TransportError`` with kind `.timedOut` when the deadline passes,
    ///   `.unsupportedRequest` (nothing sent) when the URL is unsupported (for example
    ///   `https`, or a host name) or the method or a header is invalid, `.connectionFailed`
    ///   when the host cannot be reached or the connection drops before the response starts, and
    ///   `.invalidResponse` when the peer's bytes are not acceptable HTTP or exceed the size
    ///   limits; `CancellationError` when the calling task is cancelled.
    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let target = try SocketHTTPTarget(url: request.url)
        let payload = try SocketHTTPMessage.requestBytes(for: request, target: target)
        let cancellation = SocketCancellationFlag()
        let totalMilliseconds = Self.milliseconds(request.timeout)
        let connectMilliseconds = connectTimeout.map { min(Self.milliseconds($0), totalMilliseconds) } ?? totalMilliseconds
        let limits = SocketHTTPMessage.Limits(body: maximumBodyBytes, header: maximumHeaderBytes)
        let isHead = request.method.uppercased() == "HEAD"
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<HTTPResponse, any Error>) in
                Self.ioQueue.async {
                    let start = SocketClock.nowMilliseconds()
                    do {
                        let connection = try SocketConnection.connect(
                            to: target, connectDeadline: start + connectMilliseconds,
                            cancellation: cancellation)
                        defer { connection.close() }
                        connection.deadline = start + totalMilliseconds
                        try connection.sendAll(payload)
                        var reader = SocketHTTPMessage.ResponseReader(connection: connection, limits: limits)
                        let response = try reader.readResponse(isHead: isHead)
                        continuation.resume(returning: response)
                    } catch {
                        continuation.resume(throwing: error)
                    }
                }
            }
        } onCancel: {
            cancellation.cancel()
        }
    }

    /// Converts a duration to whole milliseconds, rounding up so that a positive timeout
    /// never becomes zero.
    static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return 0 }
        let capped = min(seconds, Int64(Int32.max))
        let extra = (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return capped * 1000 + extra
    }
}

/// The address part of a request URL, validated for ``SocketHTTPTransport``.
struct SocketHTTPTarget: Sendable {
    /// The host as written in the URL, without IPv6 brackets.
    var host: String
    /// The TCP port.
    var port: UInt16
    /// Whether the port was given explicitly and differs from 80 (then it goes in `Host`).
    var hostHeader: String
    /// The request target: path plus query, never empty.
    var requestTarget: String
    /// The candidate socket addresses, tried in order.
    var addresses: [SocketAddress]

    init(url: URL) throws {
        guard let scheme = url.scheme?.lowercased() else {
            throw TransportError(.unsupportedRequest, "URL '\(url.absoluteString)' has no scheme; SocketHTTPTransport needs http://")
        }
        guard scheme == "http" else {
            throw TransportError(.unsupportedRequest,
                                 "SocketHTTPTransport speaks plain HTTP only and cannot send to a '\(scheme)://' URL (\(url.host ?? "?")); use an http:// endpoint or another transport")
        }
        guard var host = url.host, !host.isEmpty else {
            throw TransportError(.unsupportedRequest, "URL '\(url.absoluteString)' has no host")
        }
        if host.hasPrefix("["), host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
        }
        let portNumber = url.port ?? 80
        guard (1...65535).contains(portNumber) else {
            throw TransportError(.unsupportedRequest, "URL '\(url.absoluteString)' has an invalid port \(portNumber)")
        }
        self.host = host
        self.port = UInt16(portNumber)

        if host.lowercased() == "localhost" {
            addresses = [SocketAddress(ipv4: "127.0.0.1", port: port)!, SocketAddress(ipv6: "::1", port: port)!]
        } else if let v4 = SocketAddress(ipv4: host, port: port) {
            addresses = [v4]
        } else if let v6 = SocketAddress(ipv6: host, port: port) {
            addresses = [v6]
        } else {
            throw TransportError(.unsupportedRequest,
                                 "SocketHTTPTransport connects only to IPv4/IPv6 literals and 'localhost' (no DNS lookups), not '\(host)'")
        }

        let hostForHeader = host.contains(":") ? "[\(host)]" : host
        hostHeader = url.port.map { $0 == 80 ? hostForHeader : "\(hostForHeader):\($0)" } ?? hostForHeader

        // The percent-encoded path keeps a trailing slash (IMDS directory listings need it).
        var target = url.path(percentEncoded: true)
        if target.isEmpty { target = "/" }
        if let query = url.query(percentEncoded: true), !query.isEmpty {
            target += "?" + query
        }
        requestTarget = target
    }

}

/// A socket address for one IPv4 or IPv6 endpoint.
struct SocketAddress: Sendable {
    /// The address family (`AF_INET` or `AF_INET6`).
    var family: Int32
    /// The raw `sockaddr_in` or `sockaddr_in6` bytes.
    var storage: [UInt8]
    /// A printable form, `host:port`.
    var display: String

    init?(ipv4 text: String, port: UInt16) {
        var address = sockaddr_in()
        guard inet_pton(AF_INET, text, &address.sin_addr) == 1 else { return nil }
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        family = AF_INET
        storage = withUnsafeBytes(of: &address) { Array($0) }
        display = "\(text):\(port)"
    }

    init?(ipv6 text: String, port: UInt16) {
        var address = sockaddr_in6()
        guard inet_pton(AF_INET6, text, &address.sin6_addr) == 1 else { return nil }
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_port = port.bigEndian
        family = AF_INET6
        storage = withUnsafeBytes(of: &address) { Array($0) }
        display = "[\(text)]:\(port)"
    }
}

/// A monotonic millisecond clock for socket deadlines.
enum SocketClock {
    /// Milliseconds on the monotonic clock.
    static func nowMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }
}

/// A flag that the cancellation handler sets and the blocking I/O loop checks between polls.
final class SocketCancellationFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var cancelled = false

    /// Marks the exchange as cancelled.
    func cancel() {
        lock.lock()
        cancelled = true
        lock.unlock()
    }

    /// Whether ``cancel()`` has been called.
    var isCancelled: Bool {
        lock.lock()
        defer { lock.unlock() }
        return cancelled
    }
}

/// One connected, non-blocking TCP socket with a deadline. Used by one thread at a time.
final class SocketConnection {
    /// The longest single `poll` wait, so that cancellation is noticed promptly.
    private static let pollSliceMilliseconds: Int64 = 20

    private var descriptor: Int32
    private let cancellation: SocketCancellationFlag
    /// The peer, for messages.
    let peer: String
    /// The monotonic time (ms) after which every operation fails with `.timedOut`.
    var deadline: Int64

    private init(descriptor: Int32, peer: String, deadline: Int64, cancellation: SocketCancellationFlag) {
        self.descriptor = descriptor
        self.peer = peer
        self.deadline = deadline
        self.cancellation = cancellation
    }

    deinit { close() }

    /// Closes the socket (idempotent).
    func close() {
        if descriptor >= 0 {
            _ = systemClose(descriptor)
            descriptor = -1
        }
    }

    /// Connects to the first reachable address of `target` before `connectDeadline`.
    static func connect(to target: SocketHTTPTarget, connectDeadline: Int64,
                        cancellation: SocketCancellationFlag) throws -> SocketConnection {
        var failures: [String] = []
        for address in target.addresses {
            do {
                return try connect(to: address, deadline: connectDeadline, cancellation: cancellation)
            } catch let error as TransportError where error.kind == .connectionFailed && !cancellation.isCancelled {
                failures.append(error.message)
            }
        }
        throw TransportError(.connectionFailed, failures.joined(separator: "; "))
    }

    private static func connect(to address: SocketAddress, deadline: Int64,
                                cancellation: SocketCancellationFlag) throws -> SocketConnection {
        #if canImport(Darwin)
        let fd = socket(address.family, SOCK_STREAM, 0)
        #else
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #endif
        guard fd >= 0 else {
            throw TransportError(.connectionFailed, "socket() for \(address.display) failed: \(errnoText())")
        }
        let connection = SocketConnection(descriptor: fd, peer: address.display, deadline: deadline,
                                          cancellation: cancellation)
        let flags = fcntl(fd, F_GETFL, 0)
        guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) >= 0 else {
            throw TransportError(.connectionFailed, "cannot make the socket non-blocking: \(errnoText())")
        }
        #if canImport(Darwin)
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size))
        #endif
        var noDelay: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))

        let result = address.storage.withUnsafeBytes { raw in
            systemConnect(fd, raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
        }
        if result != 0 {
            let code = errno
            guard code == EINPROGRESS || code == EINTR else {
                throw TransportError(.connectionFailed, "connect to \(address.display) failed: \(errnoText(code))")
            }
            try connection.wait(for: Int16(POLLOUT), activity: "connecting to \(address.display)")
            var socketError: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &socketError, &length) == 0 else {
                throw TransportError(.connectionFailed, "connect to \(address.display) failed: \(errnoText())")
            }
            if socketError != 0 {
                throw TransportError(.connectionFailed, "connect to \(address.display) failed: \(errnoText(socketError))")
            }
        }
        return connection
    }

    /// Waits until the socket is ready for `events`, the deadline passes, or the exchange is
    /// cancelled.
    private func wait(for events: Int16, activity: String) throws {
        while true {
            if cancellation.isCancelled {
                throw CancellationError()
            }
            let remaining = deadline - SocketClock.nowMilliseconds()
            if remaining <= 0 {
                throw TransportError(.timedOut, "timed out while \(activity)")
            }
            var entry = pollfd(fd: descriptor, events: events, revents: 0)
            let slice = Int32(min(remaining, Self.pollSliceMilliseconds))
            let ready = poll(&entry, 1, slice)
            if ready < 0 {
                if errno == EINTR { continue }
                throw TransportError(.connectionFailed, "poll failed while \(activity): \(errnoText())")
            }
            if ready > 0 { return }
        }
    }

    /// Sends all of `bytes` before the deadline.
    func sendAll(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            try wait(for: Int16(POLLOUT), activity: "sending the request to \(peer)")
            let sent = bytes.withUnsafeBytes { raw -> Int in
                #if canImport(Darwin)
                return systemSend(descriptor, raw.baseAddress! + offset, raw.count - offset, 0)
                #else
                return systemSend(descriptor, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                #endif
            }
            if sent < 0 {
                let code = errno
                if code == EAGAIN || code == EWOULDBLOCK || code == EINTR { continue }
                throw TransportError(.connectionFailed, "sending the request to \(peer) failed: \(errnoText(code))")
            }
            offset += sent
        }
    }

    /// Receives up to `capacity` bytes and appends them to `buffer`; returns `false` at the end
    /// of the stream.
    func receive(into buffer: inout [UInt8], capacity: Int) throws -> Bool {
        precondition(capacity > 0, "receive capacity must be positive, got \(capacity)")
        while true {
            try wait(for: Int16(POLLIN), activity: "waiting for the response from \(peer)")
            let oldCount = buffer.count
            buffer.append(contentsOf: repeatElement(0, count: capacity))
            let received = buffer.withUnsafeMutableBytes { raw in
                recv(descriptor, raw.baseAddress! + oldCount, capacity, 0)
            }
            if received < 0 {
                buffer.removeLast(capacity)
                let code = errno
                if code == EAGAIN || code == EWOULDBLOCK || code == EINTR { continue }
                throw TransportError(.connectionFailed, "reading the response from \(peer) failed: \(errnoText(code))")
            }
            buffer.removeLast(capacity - received)
            return received > 0
        }
    }
}

/// The text for an `errno` value.
private func errnoText(_ code: Int32 = errno) -> String {
    String(cString: strerror(code)) + " (errno \(code))"
}

// The C functions whose names collide with methods above.
private func systemClose(_ fd: Int32) -> Int32 {
    #if canImport(Darwin)
    return Darwin.close(fd)
    #elseif canImport(Musl)
    return Musl.close(fd)
    #else
    return Glibc.close(fd)
    #endif
}

private func systemConnect(_ fd: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> Int32 {
    #if canImport(Darwin)
    return Darwin.connect(fd, address, length)
    #elseif canImport(Musl)
    return Musl.connect(fd, address, length)
    #else
    return Glibc.connect(fd, address, length)
    #endif
}

private func systemSend(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int, _ flags: Int32) -> Int {
    #if canImport(Darwin)
    return Darwin.send(fd, bytes, count, flags)
    #elseif canImport(Musl)
    return Musl.send(fd, bytes, count, flags)
    #else
    return Glibc.send(fd, bytes, count, flags)
    #endif
}
