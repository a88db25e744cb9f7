/// The header of an IDX file, read and checked without reading its data.
public struct IDXFileHeader: Sendable, Equatable {
    /// The element type.
    public let dataType: IDXDataType
    /// The dimensions, outermost first (1 to 255 of them, each at most 2³² − 1).
    public let shape: [Int]
    /// The size of the data section in bytes, as stored (checked for overflow and against
    /// the reader's ``IDXReader/maximumDataBytes``).
    public let dataBytes: Int
    /// Whether the file is gzip-compressed.
    public let isCompressed: Bool
}

extension IDXReader {
    /// The most a deflate stream expands: 1032 output bytes per input byte (zlib's bound),
    /// so a compressed file smaller than its claim ÷ 1032 cannot hold the data its header
    /// announces.
    static let maximumDeflateRatio = 1032

    /// Reads and checks only the header of an IDX file: for a gzip file, only the first
    /// compressed bytes are inflated (at most a few KiB of output), so a header can be
    /// compared with another file's (images against labels) before either is decoded.
    ///
    /// Size checks done here, before any data is read: the data size must not overflow nor
    /// exceed ``maximumDataBytes``; a raw file must be exactly header + data bytes long; a
    /// gzip file must be large enough to inflate to its claim (deflate expands at most
    /// 1032:1).
    /// - Parameter path: The file's path, raw or gzip-compressed.
    /// - Returns: The header.
    /// - Throws: ``IDXError`` naming `path`, with the codes of ``read(_:)``.
    public func readHeader(_ path: String) throws -> IDXFileHeader {
        let file = try ReadOnlyFile(path: path)
        var magic: (UInt8, UInt8) = (0, 0)
        let n = try withUnsafeMutableBytes(of: &magic) { buffer throws in try file.read(into: buffer, at: 0) }
        if n == 2 && magic == (0x1F, 0x8B) {
            return try gzipHeader(file)
        }
        let (header, _) = try rawHeader(file)
        return IDXFileHeader(dataType: header.dataType, shape: header.shape, dataBytes: header.dataBytes, isCompressed: false)
    }

    /// Reads and checks a raw file's header, including that the file's size is exactly
    /// header plus data.
    /// - Returns: The header and its length in bytes.
    func rawHeader(_ file: ReadOnlyFile) throws -> (IDXHeader, Int) {
        let path = file.path
        guard file.size >= 4 else {
            throw IDXError(.truncatedHeader, path: path,
                           message: file.size == 0 ? "file is empty" : "file has \(file.size) bytes, an IDX header needs at least 4")
        }
        var prefix = [UInt8](repeating: 0, count: 4)
        _ = try prefix.withUnsafeMutableBytes { b throws in try file.read(into: b, at: 0) }
        let rank = try IDXHeader.rank(fromPrefix: prefix, path: path)
        let headerBytes = 4 + 4 * rank
        guard file.size >= headerBytes else {
            throw IDXError(.truncatedHeader, path: path,
                           message: "file has \(file.size) bytes, the header of \(rank) dimensions needs \(headerBytes)")
        }
        var header = [UInt8](repeating: 0, count: headerBytes)
        let got = try header.withUnsafeMutableBytes { b throws in try file.read(into: b, at: 0) }
        guard got == headerBytes else {
            throw IDXError(.truncatedHeader, path: path, message: "file ended after \(got) header bytes of \(headerBytes) (it changed while being read)")
        }
        let parsed = try IDXHeader(header, path: path, maximumDataBytes: maximumDataBytes)
        let present = file.size - headerBytes
        guard present >= parsed.dataBytes else {
            throw IDXError(.truncatedData, path: path,
                           message: "truncated data: shape \(parsed.shape) of \(parsed.dataType) needs \(parsed.dataBytes) data bytes, the file holds \(present)")
        }
        guard present == parsed.dataBytes else {
            throw IDXError(.trailingData, path: path,
                           message: "\(present - parsed.dataBytes) unexpected bytes after the \(parsed.dataBytes) data bytes of shape \(parsed.shape)")
        }
        return (parsed, headerBytes)
    }

    /// Inflates a gzip file only as far as its IDX header and checks it.
    private func gzipHeader(_ file: ReadOnlyFile) throws -> IDXFileHeader {
        let path = file.path
        var sink = IDXStreamSink(path: path, maximumDataBytes: maximumDataBytes, compressedBytes: file.size,
                                 headerOnly: true)
        let inflater: Inflater
        do {
            inflater = try Inflater()
        } catch {
            throw IDXError(.corruptCompression, path: path, message: "cannot initialise zlib: \(error)",
                           underlying: error as? CompressionError)
        }
        // Small slices: one slice inflates to at most 256 × 1032 bytes, and a header is at
        // most 1024 bytes, so this reads a few KiB however large the file claims to be.
        let slice = 256
        var input = [UInt8](repeating: 0, count: slice)
        var output: [UInt8] = []
        var offset = 0
        while sink.header == nil && offset < file.size && !inflater.isFinished {
            let n = try input.withUnsafeMutableBytes { b throws in try file.read(into: b, at: offset) }
            if n == 0 { break }
            output.removeAll(keepingCapacity: true)
            let consumed: Int
            do {
                consumed = try input.withUnsafeBytes { all in
                    try inflater.inflate(UnsafeRawBufferPointer(rebasing: all[0..<n]), into: &output,
                                         limit: slice * IDXReader.maximumDeflateRatio + (1 << 17))
                }
            } catch {
                throw IDXError(.corruptCompression, path: path,
                               message: "corrupt gzip data in the compressed bytes \(offset)..<\(offset + n): \(error)",
                               underlying: error as? CompressionError)
            }
            try sink.accept(output)
            offset += max(consumed, 1)
        }
        guard let header = sink.header else {
            throw IDXError(.truncatedHeader, path: path,
                           message: "the gzip stream ends before the IDX header is complete (\(sink.headerBytesSeen) decompressed bytes)")
        }
        return IDXFileHeader(dataType: header.dataType, shape: header.shape, dataBytes: header.dataBytes, isCompressed: true)
    }
}
