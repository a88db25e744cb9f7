import Foundation

/// HTTP/1.1 message encoding and decoding for ``SocketHTTPTransport``.
enum SocketHTTPMessage {
    /// Size limits for one response.
    struct Limits {
        /// The largest decoded body, in bytes.
        var body: Int
        /// The largest header section (and trailer section), in bytes.
        var header: Int
    }

    /// The header fields the transport writes itself; callers' values for them are ignored.
    private static let managedHeaders: Set<String> = ["host", "connection", "content-length", "transfer-encoding"]

    /// Encodes `request` as HTTP/1.1 bytes: request line, `Host` (with any non-default port),
    /// `Connection: close`, `Content-Length` when there is a body or the method carries one,
    /// the caller's headers, and the body.
    /// - Throws: ``TransportError`` (`.unsupportedRequest`) when the method or a header would
    ///   break the message framing (control characters, CR or LF).
    static func requestBytes(for request: HTTPRequest, target: SocketHTTPTarget) throws -> [UInt8] {
        try request.validateMethodAndHeaders()
        let method = request.method.uppercased()
        var head = "\(method) \(target.requestTarget) HTTP/1.1\r\n"
        head += "host: \(target.hostHeader)\r\n"
        head += "connection: close\r\n"
        if !request.body.isEmpty || ["POST", "PUT", "PATCH"].contains(method) {
            head += "content-length: \(request.body.count)\r\n"
        }
        for (name, value) in request.headers.sorted(by: { $0.key < $1.key }) {
            let lower = name.lowercased()
            if managedHeaders.contains(lower) { continue }
            head += "\(lower): \(value)\r\n"
        }
        if request.headers.keys.contains(where: { $0.lowercased() == "user-agent" }) == false {
            head += "user-agent: EC2Spot/\(EC2SpotLibrary.version)\r\n"
        }
        head += "\r\n"
        var bytes = Array(head.utf8)
        bytes.append(contentsOf: request.body)
        return bytes
    }

    /// Reads and decodes one response from a connection, within the size limits.
    struct ResponseReader {
        /// The largest single read.
        private static let readSize = 16 << 10
        /// The longest chunk-size line accepted.
        private static let maximumChunkLine = 4096

        let connection: SocketConnection
        let limits: Limits
        private var buffer: [UInt8] = []
        private var position = 0
        private var receivedAny = false

        init(connection: SocketConnection, limits: Limits) {
            self.connection = connection
            self.limits = limits
        }

        /// Reads the whole response.
        /// - Parameter isHead: Whether the request was `HEAD` (then there is no body).
        mutating func readResponse(isHead: Bool) throws -> HTTPResponse {
            while true {
                let (status, headers) = try readHeaderSection()
                if status == 101 {
                    throw TransportError(.invalidResponse, "unexpected 101 Switching Protocols from \(connection.peer)")
                }
                if (100..<200).contains(status) { continue }  // interim response: the real one follows
                if isHead || status == 204 || status == 304 {
                    return HTTPResponse(status: status, headers: headers, body: Data())
                }
                let body = try readBody(headers: headers)
                return HTTPResponse(status: status, headers: headers, body: Data(body))
            }
        }

        /// Pulls more bytes from the socket; returns `false` at the end of the stream.
        private mutating func fill() throws -> Bool {
            if position > 0 && position == buffer.count {
                buffer.removeAll(keepingCapacity: true)
                position = 0
            } else if position >= Self.readSize {
                buffer.removeFirst(position)
                position = 0
            }
            let more = try connection.receive(into: &buffer, capacity: Self.readSize)
            if more { receivedAny = true }
            return more
        }

        /// Reads one line (without its CR LF or LF) of at most `maximumLength` bytes.
        private mutating func readLine(maximumLength: Int, what: String) throws -> ArraySlice<UInt8> {
            var scanned = 0  // bytes after `position` already known to hold no LF
            while true {
                if let newline = buffer[(position + scanned)...].firstIndex(of: 0x0A) {
                    var end = newline
                    if end > position && buffer[end - 1] == 0x0D { end -= 1 }
                    let line = buffer[position..<end]
                    guard line.count <= maximumLength else { break }
                    position = newline + 1
                    return line
                }
                scanned = buffer.count - position
                // One more byte than the limit may be a pending CR.
                if scanned > maximumLength + 1 { break }
                guard try fill() else {
                    if !receivedAny {
                        throw TransportError(.connectionFailed, "\(connection.peer) closed the connection without a response")
                    }
                    throw TransportError(.invalidResponse, "\(connection.peer) closed the connection in the middle of the \(what)")
                }
            }
            throw TransportError(.invalidResponse, "\(what) from \(connection.peer) is longer than \(maximumLength) bytes")
        }

        /// Reads the status line and header fields.
        private mutating func readHeaderSection() throws -> (Int, [String: String]) {
            var budget = limits.header
            let statusLine = try readLine(maximumLength: budget, what: "status line")
            budget -= statusLine.count + 2
            let status = try Self.parseStatusLine(statusLine, peer: connection.peer)
            var headers: [String: String] = [:]
            while true {
                guard budget > 0 else {
                    throw TransportError(.invalidResponse, "header section from \(connection.peer) is longer than \(limits.header) bytes")
                }
                let line = try readLine(maximumLength: budget, what: "header section")
                budget -= line.count + 2
                if line.isEmpty { break }
                let (name, value) = try Self.parseHeaderLine(line, peer: connection.peer)
                if let existing = headers[name] {
                    headers[name] = existing + ", " + value
                } else {
                    headers[name] = value
                }
            }
            return (status, headers)
        }

        /// Parses `HTTP/1.x SSS reason`.
        static func parseStatusLine(_ line: ArraySlice<UInt8>, peer: String) throws -> Int {
            let bytes = Array(line)
            let prefix = Array("HTTP/1.".utf8)
            func invalid() -> TransportError {
                let shown = String(decoding: bytes.prefix(80), as: UTF8.self)
                return TransportError(.invalidResponse, "invalid status line from \(peer): '\(shown)'")
            }
            guard bytes.count >= 12, Array(bytes[0..<7]) == prefix,
                  (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[7]), bytes[8] == 0x20 else {
                throw invalid()
            }
            var status = 0
            for byte in bytes[9..<12] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { throw invalid() }
                status = status * 10 + Int(byte - UInt8(ascii: "0"))
            }
            guard (100...599).contains(status), bytes.count == 12 || bytes[12] == 0x20 else { throw invalid() }
            return status
        }

        /// Parses `name: value`, returning the lowercased name and the trimmed value.
        static func parseHeaderLine(_ line: ArraySlice<UInt8>, peer: String) throws -> (String, String) {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex,
                  line[line.startIndex..<colon].allSatisfy(HTTPRequest.isTokenByte) else {
                let shown = String(decoding: line.prefix(80), as: UTF8.self)
                throw TransportError(.invalidResponse, "invalid header line from \(peer): '\(shown)'")
            }
            var value = line[(colon + 1)...]
            while let first = value.first, first == 0x20 || first == 0x09 { value = value.dropFirst() }
            while let last = value.last, last == 0x20 || last == 0x09 { value = value.dropLast() }
            guard value.allSatisfy({ $0 == 0x09 || $0 >= 0x20 }) else {
                throw TransportError(.invalidResponse, "header field from \(peer) contains control characters")
            }
            let name = String(decoding: line[line.startIndex..<colon], as: UTF8.self).lowercased()
            return (name, String(decoding: value, as: UTF8.self))
        }

        /// Reads the body framed as the headers say.
        private mutating func readBody(headers: [String: String]) throws -> [UInt8] {
            if let codings = headers["transfer-encoding"] {
                let list = codings.lowercased().split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                guard list == ["chunked"] else {
                    throw TransportError(.invalidResponse, "unsupported transfer coding '\(codings)' from \(connection.peer)")
                }
                return try readChunkedBody()
            }
            if let declared = headers["content-length"] {
                let length = try Self.parseContentLength(declared, limit: limits.body, peer: connection.peer)
                return try readExactly(length)
            }
            return try readUntilClose()
        }

        /// Parses a `Content-Length` value (repeated identical values allowed), checking it
        /// against `limit` before anything is allocated.
        static func parseContentLength(_ text: String, limit: Int, peer: String) throws -> Int {
            let parts = text.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            guard let first = parts.first, parts.allSatisfy({ $0 == first }), !first.isEmpty, first.count <= 19,
                  first.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
                  let length = Int(first) else {
                throw TransportError(.invalidResponse, "invalid Content-Length '\(text.prefix(40))' from \(peer)")
            }
            guard length <= limit else {
                throw TransportError(.invalidResponse, "response body from \(peer) declares \(length) bytes, more than the limit of \(limit)")
            }
            return length
        }

        /// Reads exactly `count` body bytes.
        private mutating func readExactly(_ count: Int) throws -> [UInt8] {
            while buffer.count - position < count {
                guard try fill() else {
                    throw TransportError(.invalidResponse,
                                         "\(connection.peer) closed the connection after \(buffer.count - position) of \(count) body bytes")
                }
            }
            let body = Array(buffer[position..<(position + count)])
            position += count
            return body
        }

        /// Reads the body until the peer closes the connection.
        private mutating func readUntilClose() throws -> [UInt8] {
            var body = Array(buffer[position...])
            position = buffer.count
            while true {
                guard body.count <= limits.body else {
                    throw TransportError(.invalidResponse, "response body from \(connection.peer) is larger than the limit of \(limits.body) bytes")
                }
                guard try fill() else { return body }
                body.append(contentsOf: buffer[position...])
                position = buffer.count
            }
        }

        /// Reads a `chunked` body, its terminating zero-size chunk and any trailer fields.
        private mutating func readChunkedBody() throws -> [UInt8] {
            var body: [UInt8] = []
            while true {
                let line = try readLine(maximumLength: Self.maximumChunkLine, what: "chunk size line")
                let sizeField = line.prefix { $0 != UInt8(ascii: ";") }
                    .drop { $0 == 0x20 || $0 == 0x09 }
                var size = 0
                var digits = 0
                for byte in sizeField {
                    if byte == 0x20 || byte == 0x09 { break }
                    guard let digit = Self.hexValue(byte) else {
                        throw TransportError(.invalidResponse, "invalid chunk size from \(connection.peer)")
                    }
                    size = size * 16 + digit
                    digits += 1
                    guard body.count + size <= limits.body else {
                        throw TransportError(.invalidResponse, "chunked response body from \(connection.peer) is larger than the limit of \(limits.body) bytes")
                    }
                }
                guard digits > 0 else {
                    throw TransportError(.invalidResponse, "missing chunk size from \(connection.peer)")
                }
                if size == 0 { break }
                body.append(contentsOf: try readExactly(size))
                let terminator = try readLine(maximumLength: 0, what: "chunk terminator")
                guard terminator.isEmpty else {
                    throw TransportError(.invalidResponse, "chunk from \(connection.peer) is longer than its declared size")
                }
            }
            var budget = limits.header
            while true {
                let trailer = try readLine(maximumLength: budget, what: "trailer section")
                if trailer.isEmpty { return body }
                budget -= trailer.count + 2
                guard budget > 0 else {
                    throw TransportError(.invalidResponse, "trailer section from \(connection.peer) is longer than \(limits.header) bytes")
                }
            }
        }

        /// The value of a hexadecimal digit, or `nil`.
        private static func hexValue(_ byte: UInt8) -> Int? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(byte - UInt8(ascii: "a")) + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(byte - UInt8(ascii: "A")) + 10
            default: return nil
            }
        }
    }
}
