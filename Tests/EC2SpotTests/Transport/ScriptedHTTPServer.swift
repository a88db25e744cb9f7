import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A tiny scripted HTTP server on a loopback address, for transport tests. Each accepted
/// connection gets its request read (head plus `Content-Length` body) and recorded, then the
/// scripted behaviour.
final class ScriptedHTTPServer: @unchecked Sendable {
    /// What the server does with each connection.
    enum Behavior: Sendable {
        /// Reads the request, writes these bytes, closes.
        case respond([UInt8])
        /// Reads the request, writes these pieces with a pause between them, closes.
        case respondInPieces([[UInt8]], pauseMilliseconds: Int)
        /// For each of these responses in turn: reads a request, writes the response; then
        /// closes (a proxy that answers `CONNECT` and then the tunnelled request, say).
        case conversation([[UInt8]])
        /// Reads the request and then says nothing until the server stops.
        case neverRespond
        /// Reads the request, writes these bytes (a head and part of a body, say), then says
        /// nothing more until the server stops: a stall that no scheduling delay can end early.
        case respondThenStall([UInt8])
        /// Listens but never accepts (so the accept queue fills up).
        case neverAccept
        /// Reads the request, writes `head`, then writes `chunk` up to `count` times (stopping
        /// as soon as the client hangs up), closes. ``bytesSent`` counts what was written.
        case stream(head: [UInt8], chunk: [UInt8], count: Int)
        /// Reads the request, writes `head`, then one space every `intervalMilliseconds`
        /// until the client hangs up or the server stops.
        case trickle(head: [UInt8], intervalMilliseconds: Int)
    }

    let port: UInt16
    private let listener: Int32
    private let behavior: Behavior
    private let lock = NSLock()
    private var stopped = false
    private var requests: [String] = []
    private var sentBytes = 0
    private var hangUps = 0
    private var thread: Thread?

    /// Whether `::1` can be bound on this machine.
    static let ipv6LoopbackAvailable: Bool = {
        let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_addr = in6addr_loopback
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) == 0
            }
        }
    }()

    /// Starts a server on a free port of `127.0.0.1` (or `::1`).
    init(_ behavior: Behavior, ipv6: Bool = false) throws {
        self.behavior = behavior
        let family = ipv6 ? AF_INET6 : AF_INET
        let fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ServerError("socket failed") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound: Int32
        if ipv6 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_addr = in6addr_loopback
            bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        } else {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        guard bound == 0, listen(fd, 0) == 0 else {
            close(fd)
            throw ServerError("bind/listen failed: errno \(errno)")
        }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        let portBigEndian: UInt16 = withUnsafePointer(to: &storage) { pointer in
            ipv6 ? pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_port }
                 : pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_port }
        }
        port = UInt16(bigEndian: portBigEndian)
        listener = fd
        if case .neverAccept = behavior { return }
        let thread = Thread { [self] in self.acceptLoop() }
        self.thread = thread
        thread.start()
    }

    /// The base URL, e.g. `http://127.0.0.1:12345`.
    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// The requests received so far (head and body as text).
    var receivedRequests: [String] {
        lock.lock()
        defer { lock.unlock() }
        return requests
    }

    /// The bytes written to clients so far by `.stream` and `.trickle`.
    var bytesSent: Int {
        lock.lock()
        defer { lock.unlock() }
        return sentBytes
    }

    /// How many `.stream` and `.trickle` connections ended because the client hung up.
    var clientHangUps: Int {
        lock.lock()
        defer { lock.unlock() }
        return hangUps
    }

    private var isStopped: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopped
    }

    private var queueFillers: [Int32] = []

    /// Opens `count` client connections that sit in the accept queue (for `.neverAccept`),
    /// so that further connection attempts get no answer; they are closed by ``stop()``.
    func occupyAcceptQueue(connections count: Int) {
        for _ in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = port.bigEndian
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            usleep(20_000)
            lock.lock()
            queueFillers.append(fd)
            lock.unlock()
        }
    }

    /// Stops accepting and closes the listener; connections still open are closed by their
    /// handlers shortly after.
    func stop() {
        lock.lock()
        let wasStopped = stopped
        stopped = true
        let fillers = queueFillers
        queueFillers = []
        lock.unlock()
        fillers.forEach { close($0) }
        if !wasStopped, thread == nil { close(listener) }
    }

    deinit { stop() }

    private func acceptLoop() {
        defer { close(listener) }
        while !isStopped {
            var entry = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 10) > 0 else { continue }
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            let worker = Thread { [self] in self.serve(client) }
            worker.start()
        }
    }

    private func serve(_ client: Int32) {
        defer { close(client) }
        var pending: [UInt8] = []
        guard readRequest(client, pending: &pending) else { return }
        switch behavior {
        case .respond(let bytes):
            sendAll(client, bytes)
        case .respondInPieces(let pieces, let pause):
            for piece in pieces {
                sendAll(client, piece)
                usleep(UInt32(pause * 1000))
            }
        case .conversation(let replies):
            for (index, reply) in replies.enumerated() {
                if index > 0, !readRequest(client, pending: &pending) { return }
                guard sendAll(client, reply) else { return }
            }
        case .neverRespond:
            while !isStopped { usleep(5000) }
        case .respondThenStall(let bytes):
            sendAll(client, bytes)
            while !isStopped { usleep(5000) }
        case .neverAccept:
            break
        case .stream(let head, let chunk, let count):
            guard sendAll(client, head) else { return noteHangUp() }
            for _ in 0..<count {
                guard !isStopped, sendAll(client, chunk) else { return noteHangUp() }
                lock.withLock { sentBytes += chunk.count }
            }
        case .trickle(let head, let interval):
            guard sendAll(client, head) else { return noteHangUp() }
            while !isStopped {
                guard sendAll(client, [0x20]) else { return noteHangUp() }
                lock.withLock { sentBytes += 1 }
                usleep(UInt32(interval * 1000))
            }
        }
        shutdown(client, Int32(SHUT_WR))
    }

    /// Reads one request (head plus `Content-Length` body) from `pending` and the socket and
    /// records it; bytes after it stay in `pending`. False when the server stops first.
    private func readRequest(_ client: Int32, pending: inout [UInt8]) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 4096)
        var headEnd: Int?
        var bodyLength = 0
        while true {
            if headEnd == nil, let range = findHeadEnd(pending) {
                headEnd = range
                let head = String(decoding: pending[0..<range], as: UTF8.self).lowercased()
                for line in head.split(separator: "\r\n") where line.hasPrefix("content-length:") {
                    bodyLength = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
                }
            }
            if let end = headEnd, pending.count >= end + bodyLength { break }
            var entry = pollfd(fd: client, events: Int16(POLLIN), revents: 0)
            if poll(&entry, 1, 10) <= 0 {
                if isStopped { return false }
                continue
            }
            let count = recv(client, &chunk, chunk.count, 0)
            if count <= 0 { break }
            pending.append(contentsOf: chunk[0..<count])
        }
        let length = headEnd.map { min(pending.count, $0 + bodyLength) } ?? pending.count
        lock.lock()
        requests.append(String(decoding: pending[0..<length], as: UTF8.self))
        lock.unlock()
        pending.removeFirst(length)
        return true
    }

    private func noteHangUp() {
        lock.withLock { hangUps += 1 }
    }

    /// Writes all of `bytes`; false when the peer has gone away.
    @discardableResult
    private func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { return false }
            offset += sent
        }
        return true
    }

    private func findHeadEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4)
        where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
            return index + 4
        }
        return nil
    }

    struct ServerError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}

/// A loopback port with nothing listening on it (bound, then closed).
func unusedLoopbackPort() -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    _ = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return UInt16(bigEndian: address.sin_port)
}
