/// Reads IDX files (the format of MNIST and its relatives), raw or gzip-compressed.
///
/// ## Format
/// ```
/// byte 0, 1   0x00 0x00                 magic
/// byte 2      data type code            0x08 uint8, 0x09 int8, 0x0B int16,
///                                       0x0C int32, 0x0D float32, 0x0E float64
/// byte 3      number of dimensions r    1...255
/// 4 × r bytes dimension sizes           unsigned 32-bit, big-endian, outermost first
/// data        product(dims) elements    row-major, multi-byte elements big-endian
/// ```
/// A file whose first two bytes are `1F 8B` is a gzip stream and is decompressed on the
/// fly (the file name does not matter); anything else is read as a raw IDX file.
///
/// ## Decisions
/// - **Zero dimensions** are rejected (``IDXError/Code/badRank``): a rank-0 IDX "scalar"
///   is not used by any dataset and a 0 there much more likely means a damaged header.
///   Dimensions of size 0 are accepted (an empty data set).
/// - **Trailing bytes** after the data, or after the end of the gzip stream, are rejected
///   (``IDXError/Code/trailingData``): the header fixes the exact size, so extra bytes mean
///   the file is not what its header claims. Concatenated gzip members are one stream.
///
/// ## Memory safety against bad headers
/// No allocation is sized from an unchecked header field. The data size is computed with
/// overflow checks and compared with ``maximumDataBytes``; a raw file's claimed size must
/// also match the file's actual size before its buffer is allocated. A gzip file is read in
/// 64 KiB chunks and inflated 16 KiB at a time with a bounded ``Inflater``; the decoded data
/// grows only as real data arrives, and the stream is cut off as soon as it produces one
/// byte more than the header claims, so a gzip bomb or a lying header costs at most the
/// header's (bounded) claim. A gzip file's claim must also fit what its compressed size can
/// inflate to (deflate expands at most 1032:1), checked as soon as the header is decoded.
/// ``readHeader(_:)`` reads and checks only the header, so that two files can be compared
/// (``MNIST`` compares images with labels) before either is decoded.
public struct IDXReader: Sendable {
    /// The default ``maximumDataBytes``: 4 GiB.
    public static let defaultMaximumDataBytes = 1 << 32

    /// The largest data section (in bytes, as stored) the reader accepts; larger files throw
    /// ``IDXError/Code/tooLarge`` before anything is allocated.
    public var maximumDataBytes: Int

    /// Creates a reader.
    /// - Parameter maximumDataBytes: The largest data section accepted, in bytes (at least 0).
    public init(maximumDataBytes: Int = IDXReader.defaultMaximumDataBytes) {
        precondition(maximumDataBytes >= 0, "IDXReader: maximumDataBytes \(maximumDataBytes) is negative")
        self.maximumDataBytes = maximumDataBytes
    }

    /// Reads and validates a whole IDX file.
    ///
    /// - Parameter path: The file's path, raw or gzip-compressed.
    /// - Returns: The element type, shape and data.
    /// - Throws: ``IDXError`` naming `path`: `.missingFile`, `.readFailed`, `.badMagic`,
    ///   `.unknownDataType`, `.badRank`, `.truncatedHeader`, `.truncatedData`,
    ///   `.trailingData`, `.sizeOverflow`, `.tooLarge` or `.corruptCompression`.
    public func read(_ path: String) throws -> IDXFile {
        let file = try ReadOnlyFile(path: path)
        var magic: (UInt8, UInt8) = (0, 0)
        let n = try withUnsafeMutableBytes(of: &magic) { buffer throws in try file.read(into: buffer, at: 0) }
        if n == 2 && magic == (0x1F, 0x8B) {
            return try readGzip(file)
        }
        return try readRaw(file)
    }

    // MARK: Raw files

    private func readRaw(_ file: ReadOnlyFile) throws -> IDXFile {
        let path = file.path
        let (parsed, headerBytes) = try rawHeader(file)
        // Safe to allocate: the size was checked against maximumDataBytes and the file size.
        var readError: IDXError?
        let data = [UInt8](unsafeUninitializedCapacity: parsed.dataBytes) { buffer, initialized in
            do {
                let n = try file.read(into: UnsafeMutableRawBufferPointer(buffer), at: headerBytes)
                if n < parsed.dataBytes {
                    readError = IDXError(.truncatedData, path: path,
                                         message: "truncated data: expected \(parsed.dataBytes) data bytes, read \(n) (the file changed while being read)")
                }
            } catch let error as IDXError {
                readError = error
            } catch {
                readError = IDXError(.readFailed, path: path, message: "read error: \(error)")
            }
            // UInt8 is trivial: exposing unread bytes is harmless and the array is dropped on error.
            initialized = parsed.dataBytes
        }
        if let readError { throw readError }
        return IDXFile(path: path, dataType: parsed.dataType, shape: parsed.shape, data: data)
    }

    // MARK: Gzip files

    /// Compressed bytes read from the file at a time.
    private static let readChunk = 1 << 16
    /// Compressed bytes handed to the inflater at a time.
    private static let inflateSlice = 1 << 14
    /// The most one slice may inflate to: deflate cannot expand more than 1032:1, so more than
    /// this (with slack for bits carried between slices) means a corrupt stream.
    private static let sliceOutputLimit = inflateSlice * 1032 + (1 << 17)

    private func readGzip(_ file: ReadOnlyFile) throws -> IDXFile {
        let path = file.path
        var sink = IDXStreamSink(path: path, maximumDataBytes: maximumDataBytes, compressedBytes: file.size)
        var inflater = try IDXReader.makeInflater(path: path)
        var input = [UInt8](repeating: 0, count: IDXReader.readChunk)
        var output: [UInt8] = []
        output.reserveCapacity(IDXReader.sliceOutputLimit)
        var offset = 0
        var memberEnded = false   // the last inflater reached the end of its gzip member

        reading: while offset < file.size {
            let n = try input.withUnsafeMutableBytes { b throws in try file.read(into: b, at: offset) }
            if n == 0 { break }
            var position = 0
            while position < n {
                if memberEnded {
                    // Another gzip member may follow (the same rule zlib applies within a call).
                    guard input[position] == 0x1F else {
                        throw IDXError(.trailingData, path: path,
                                       message: "\(file.size - offset - position) unexpected bytes after the end of the gzip stream")
                    }
                    inflater = try IDXReader.makeInflater(path: path)
                    memberEnded = false
                }
                let sliceEnd = min(n, position + IDXReader.inflateSlice)
                output.removeAll(keepingCapacity: true)
                let consumed: Int
                do {
                    consumed = try input.withUnsafeBytes { all in
                        try inflater.inflate(UnsafeRawBufferPointer(rebasing: all[position..<sliceEnd]),
                                             into: &output, limit: IDXReader.sliceOutputLimit)
                    }
                } catch {
                    throw IDXError(.corruptCompression, path: path,
                                   message: "corrupt gzip data in the compressed bytes \(offset + position)..<\(offset + sliceEnd): \(error)",
                                   underlying: error as? CompressionError)
                }
                try sink.accept(output)
                let sliceLength = sliceEnd - position
                position += consumed
                if inflater.isFinished {
                    memberEnded = true
                    if consumed < sliceLength {
                        // The inflater stopped inside the slice and did not see a new member.
                        throw IDXError(.trailingData, path: path,
                                       message: "\(file.size - offset - position) unexpected bytes after the end of the gzip stream")
                    }
                } else if consumed == 0 {
                    throw IDXError(.corruptCompression, path: path, message: "gzip inflate made no progress at compressed byte \(offset + position)")
                }
            }
            offset += n
            if n < input.count { break reading }
        }
        guard memberEnded else {
            if let (code, shortfall) = sink.shortfall() {
                throw IDXError(code, path: path,
                               message: "truncated gzip stream: \(shortfall); the compressed data ends before its trailer")
            }
            throw IDXError(.corruptCompression, path: path,
                           message: "the gzip stream ends before its trailer (CRC-32 and length): the file is truncated")
        }
        return try sink.finish()
    }

    private static func makeInflater(path: String) throws -> Inflater {
        do {
            return try Inflater()
        } catch {
            throw IDXError(.corruptCompression, path: path, message: "cannot initialise zlib: \(error)",
                           underlying: error as? CompressionError)
        }
    }
}

/// A parsed IDX header.
struct IDXHeader {
    let dataType: IDXDataType
    let shape: [Int]
    /// The size of the data section in bytes (checked for overflow and the reader's maximum).
    let dataBytes: Int

    /// Checks the first four header bytes and returns the number of dimensions.
    static func rank(fromPrefix b: [UInt8], path: String) throws -> Int {
        guard b[0] == 0, b[1] == 0 else {
            throw IDXError(.badMagic, path: path,
                           message: "not an IDX file: the first two bytes are \(hex(b[0])) \(hex(b[1])), expected 00 00")
        }
        guard IDXDataType(rawValue: b[2]) != nil else {
            let known = IDXDataType.allCases.map(\.description).joined(separator: ", ")
            throw IDXError(.unknownDataType, path: path,
                           message: "unknown data type code 0x\(hex(b[2])); the IDX format defines \(known)")
        }
        guard b[3] > 0 else {
            throw IDXError(.badRank, path: path, message: "the header declares 0 dimensions; 1 to 255 are supported")
        }
        return Int(b[3])
    }

    /// Parses and validates a complete header (`4 + 4 * rank` bytes).
    init(_ b: [UInt8], path: String, maximumDataBytes: Int) throws {
        let rank = try IDXHeader.rank(fromPrefix: b, path: path)
        precondition(b.count == 4 + 4 * rank, "IDXHeader: \(b.count) header bytes for rank \(rank)")
        let type = IDXDataType(rawValue: b[2])!
        var shape: [Int] = []
        shape.reserveCapacity(rank)
        for d in 0..<rank {
            let o = 4 + 4 * d
            shape.append(Int(b[o]) << 24 | Int(b[o + 1]) << 16 | Int(b[o + 2]) << 8 | Int(b[o + 3]))
        }
        var elements = 1
        var overflow = false
        for d in shape {
            (elements, overflow) = elements.multipliedReportingOverflow(by: d)
            if overflow { break }
        }
        var bytes = 0
        if !overflow { (bytes, overflow) = elements.multipliedReportingOverflow(by: type.byteWidth) }
        if overflow {
            throw IDXError(.sizeOverflow, path: path,
                           message: "dimensions \(shape) of \(type) describe more bytes than fit in a 64-bit integer")
        }
        guard bytes <= maximumDataBytes else {
            throw IDXError(.tooLarge, path: path,
                           message: "dimensions \(shape) of \(type) describe \(bytes) data bytes, more than the reader's maximum of \(maximumDataBytes)")
        }
        self.dataType = type
        self.shape = shape
        self.dataBytes = bytes
    }

    static func hex(_ byte: UInt8) -> String {
        String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
    }
}

/// Collects decompressed bytes: first the header, then exactly the data it announces.
struct IDXStreamSink {
    let path: String
    let maximumDataBytes: Int
    /// The size of the compressed file: a claim beyond what it can inflate to is rejected.
    let compressedBytes: Int
    /// Stop at the header: the data is neither checked nor kept.
    let headerOnly: Bool
    private var headerBuffer: [UInt8] = []
    private var headerNeeded = 4
    private var parsed: IDXHeader?
    private var data: [UInt8] = []

    init(path: String, maximumDataBytes: Int, compressedBytes: Int, headerOnly: Bool = false) {
        self.path = path
        self.maximumDataBytes = maximumDataBytes
        self.compressedBytes = compressedBytes
        self.headerOnly = headerOnly
    }

    /// The parsed header, once complete.
    var header: IDXHeader? { parsed }
    /// The decompressed header bytes collected so far.
    var headerBytesSeen: Int { headerBuffer.count }

    /// Takes the next decompressed bytes.
    /// - Throws: Header errors as soon as the header is complete; `.trailingData` as soon as
    ///   the bytes run past the data the header announces.
    mutating func accept(_ bytes: [UInt8]) throws {
        var rest = bytes[...]
        while parsed == nil && !rest.isEmpty {
            let take = min(headerNeeded - headerBuffer.count, rest.count)
            headerBuffer.append(contentsOf: rest.prefix(take))
            rest = rest.dropFirst(take)
            if headerBuffer.count == headerNeeded {
                if headerNeeded == 4 {
                    headerNeeded = 4 + 4 * (try IDXHeader.rank(fromPrefix: headerBuffer, path: path))
                } else {
                    let h = try IDXHeader(headerBuffer, path: path, maximumDataBytes: maximumDataBytes)
                    // Deflate expands at most 1032:1 (plus a little for the gzip framing), so
                    // a claim beyond that is a lie known before anything is inflated.
                    let (reach, overflow) = compressedBytes.multipliedReportingOverflow(by: IDXReader.maximumDeflateRatio)
                    if !overflow && reach < headerNeeded + h.dataBytes {
                        throw IDXError(.truncatedData, path: path,
                                       message: "truncated data: shape \(h.shape) of \(h.dataType) needs \(h.dataBytes) data bytes, "
                                           + "more than the \(compressedBytes) compressed bytes can hold (deflate expands at most "
                                           + "\(IDXReader.maximumDeflateRatio):1)")
                    }
                    parsed = h
                    if headerOnly { return }
                    // Reserve a bounded amount up front; beyond it the array grows only as
                    // real data arrives, so a lying header cannot make us allocate.
                    data.reserveCapacity(min(h.dataBytes, 1 << 26))
                }
            }
        }
        guard let h = parsed, !rest.isEmpty else { return }
        guard data.count + rest.count <= h.dataBytes else {
            throw IDXError(.trailingData, path: path,
                           message: "the decompressed data continues past the \(h.dataBytes) data bytes of shape \(h.shape)")
        }
        data.append(contentsOf: rest)
    }

    /// What is missing (`.truncatedHeader` or `.truncatedData` and a description), or `nil`
    /// if header and data are complete.
    func shortfall() -> (IDXError.Code, String)? {
        guard let h = parsed else {
            return (.truncatedHeader, "the decompressed content has \(headerBuffer.count) bytes, the header needs \(headerNeeded)")
        }
        if data.count < h.dataBytes {
            return (.truncatedData, "shape \(h.shape) of \(h.dataType) needs \(h.dataBytes) data bytes, the stream holds \(data.count)")
        }
        return nil
    }

    /// The complete file.
    /// - Throws: `.truncatedHeader` or `.truncatedData` if the stream ended early.
    func finish() throws -> IDXFile {
        guard let h = parsed else {
            throw IDXError(.truncatedHeader, path: path,
                           message: headerBuffer.isEmpty ? "the decompressed content is empty"
                                : "the decompressed content has \(headerBuffer.count) bytes, the header needs \(headerNeeded)")
        }
        guard data.count == h.dataBytes else {
            throw IDXError(.truncatedData, path: path,
                           message: "truncated data: shape \(h.shape) of \(h.dataType) needs \(h.dataBytes) data bytes, the decompressed content holds \(data.count)")
        }
        return IDXFile(path: path, dataType: h.dataType, shape: h.shape, data: data)
    }
}
