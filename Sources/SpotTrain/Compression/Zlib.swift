import CZlib

/// An error from zlib compression or decompression.
public struct CompressionError: Error, CustomStringConvertible, Equatable {
    /// What went wrong, for example "corrupt deflate stream" or "decompressed size 10 differs from expected 12".
    public let message: String
    /// zlib's return code, when zlib reported the error.
    public let zlibCode: Int32?

    /// Creates an error.
    public init(_ message: String, zlibCode: Int32? = nil) {
        self.message = message
        self.zlibCode = zlibCode
    }

    public var description: String {
        zlibCode.map { "\(message) (zlib code \($0))" } ?? message
    }
}

/// zlib (RFC 1950) compression, CRC-32 and streaming gzip/zlib decompression over `CZlib`.
public enum Zlib {
    /// zlib's CRC-32 (the ISO-HDLC polynomial, as in gzip and PNG) of `bytes`, continuing
    /// from `initial` (0 to start).
    public static func crc32(_ bytes: UnsafeRawBufferPointer, initial: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return initial }
        var crc = UInt(initial)
        var p = base.assumingMemoryBound(to: UInt8.self)
        var remaining = bytes.count
        while remaining > 0 {
            let n = min(remaining, Int(UInt32.max >> 1))
            crc = CZlib.crc32(crc, p, UInt32(n))
            p += n
            remaining -= n
        }
        return UInt32(truncatingIfNeeded: crc)
    }

    /// CRC-32 of a byte array.
    public static func crc32(_ bytes: [UInt8], initial: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { crc32($0, initial: initial) }
    }

    /// Compresses `bytes` into a zlib stream.
    /// - Parameters:
    ///   - bytes: The data.
    ///   - level: 0 (store) to 9 (smallest); 1 is fastest with compression.
    /// - Returns: The zlib-format stream (2-byte header, deflate data, Adler-32).
    /// - Throws: ``CompressionError`` if zlib fails.
    public static func compress(_ bytes: UnsafeRawBufferPointer, level: Int32 = 1) throws -> [UInt8] {
        precondition((0...9).contains(level), "Zlib.compress: level \(level) is not in 0...9")
        var bound = Int(compressBound(UInt(bytes.count)))
        var out = [UInt8](repeating: 0, count: max(bound, 16))
        let source = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? UnsafePointer<UInt8>(bitPattern: 1)!
        let code = out.withUnsafeMutableBufferPointer { dst -> Int32 in
            var destLen = UInt(dst.count)
            let rc = compress2(dst.baseAddress, &destLen, source, UInt(bytes.count), level)
            bound = Int(destLen)
            return rc
        }
        guard code == Z_OK else { throw CompressionError("compression failed", zlibCode: code) }
        out.removeSubrange(bound...)
        return out
    }

    /// Decompresses a complete zlib stream whose decompressed size is known in advance.
    ///
    /// Nothing is allocated beyond `destination.count`; a stream that decodes to more or
    /// fewer bytes, or that is corrupt, throws.
    /// - Parameters:
    ///   - source: The zlib stream.
    ///   - destination: Receives exactly the decompressed bytes.
    /// - Throws: ``CompressionError``.
    public static func decompress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) throws {
        var stream = z_stream()
        var rc = inflateInit_(&stream, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else { throw CompressionError("cannot initialise inflate", zlibCode: rc) }
        defer { inflateEnd(&stream) }
        stream.next_in = UnsafeMutablePointer(mutating: source.baseAddress?.assumingMemoryBound(to: UInt8.self))
        stream.avail_in = UInt32(source.count)
        stream.next_out = destination.baseAddress?.assumingMemoryBound(to: UInt8.self)
        stream.avail_out = UInt32(destination.count)
        rc = inflate(&stream, Z_FINISH)
        switch rc {
        case Z_STREAM_END:
            if Int(stream.total_out) != destination.count {
                throw CompressionError("decompressed size \(stream.total_out) differs from expected \(destination.count)")
            }
            if stream.avail_in != 0 {
                throw CompressionError("\(stream.avail_in) unexpected bytes after the end of the compressed stream")
            }
        case Z_BUF_ERROR where stream.avail_out == 0:
            throw CompressionError("decompressed data is larger than the expected \(destination.count) bytes")
        case Z_BUF_ERROR:
            throw CompressionError("compressed stream is truncated")
        default:
            throw CompressionError("corrupt compressed stream", zlibCode: rc)
        }
    }
}

/// Streaming decompression of gzip (RFC 1952) or zlib (RFC 1950) data, chosen by the
/// stream's own header bytes. Concatenated gzip members are decoded in sequence.
public final class Inflater {
    private var stream = z_stream()
    private var finished = false

    /// Creates an inflater that detects gzip or zlib from the header.
    /// - Throws: ``CompressionError`` if zlib cannot be initialised.
    public init() throws {
        // windowBits 15 + 32: automatic gzip/zlib header detection.
        let rc = inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else { throw CompressionError("cannot initialise inflate", zlibCode: rc) }
    }

    deinit { inflateEnd(&stream) }

    /// Whether the end of the compressed stream has been reached.
    public var isFinished: Bool { finished }

    /// Feeds compressed bytes and appends what they decode to into `output`.
    ///
    /// - Parameters:
    ///   - input: The next compressed bytes.
    ///   - output: Receives decompressed bytes.
    ///   - limit: Throw instead of letting `output` grow beyond this many bytes.
    /// - Returns: The number of bytes of `input` consumed; fewer than `input.count` only once
    ///   the stream has ended (trailing data is left for the caller to judge).
    /// - Throws: ``CompressionError`` on corrupt data or when `limit` is exceeded.
    @discardableResult
    public func inflate(_ input: UnsafeRawBufferPointer, into output: inout [UInt8], limit: Int = .max) throws -> Int {
        guard !finished, input.count > 0 else { return 0 }
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: UInt8.self))
        stream.avail_in = UInt32(input.count)
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while stream.avail_in > 0 && !finished {
            let produced: Int = try chunk.withUnsafeMutableBufferPointer { buf in
                stream.next_out = buf.baseAddress
                stream.avail_out = UInt32(buf.count)
                let rc = CZlib.inflate(&stream, Z_NO_FLUSH)
                switch rc {
                case Z_OK, Z_BUF_ERROR: break
                case Z_STREAM_END:
                    // A gzip file may hold several members; continue if more input follows.
                    if stream.avail_in > 0, buf.count - Int(stream.avail_out) >= 0,
                       stream.next_in[0] == 0x1F {
                        let reset = inflateReset(&stream)
                        if reset != Z_OK { throw CompressionError("cannot reset inflate", zlibCode: reset) }
                    } else {
                        finished = true
                    }
                default:
                    throw CompressionError("corrupt compressed stream", zlibCode: rc)
                }
                return buf.count - Int(stream.avail_out)
            }
            if output.count + produced > limit {
                throw CompressionError("decompressed data exceeds the limit of \(limit) bytes")
            }
            output.append(contentsOf: chunk[0..<produced])
            if produced == 0 && stream.avail_in > 0 && !finished {
                throw CompressionError("inflate made no progress")
            }
        }
        return input.count - Int(stream.avail_in)
    }
}
