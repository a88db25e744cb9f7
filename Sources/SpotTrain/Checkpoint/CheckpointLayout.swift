/// The verified structure of a checkpoint file: where every section and record is.
///
/// Building a layout checks, in order: the magic, the major version, the footer and its
/// completion marker, the whole-file CRC-32 (unless `requireFileChecksum` is false, for
/// inspection), the header fields, the metadata CRC-32, and every record's fixed fields,
/// shape and lengths against the bytes actually present. No payload is decoded and nothing
/// is allocated from a field before that field is checked against the file size.
struct CheckpointLayout {
    struct Record {
        var offset: Int
        var headerLength: Int
        var name: String
        var dataType: CheckpointDataType
        var filter: CheckpointFilter
        var compression: CheckpointCompression
        var shape: [Int]
        var elementCount: Int
        var uncompressedLength: Int
        var storedLength: Int
        var checksum: UInt32
        var payloadOffset: Int
    }

    var fileSize: Int
    var majorVersion: UInt16
    var minorVersion: UInt16
    var headerLength: Int
    var metadataOffset: Int
    var metadataLength: Int
    var metadataChecksum: UInt32
    var metadataChecksumValid: Bool
    var recordCount: Int
    var records: [Record]
    var footerOffset: Int
    var fileChecksum: UInt32
    var fileChecksumValid: Bool

    /// Parses and checks the structure of `bytes`.
    /// - Parameters:
    ///   - bytes: A whole file.
    ///   - path: The file, for errors.
    ///   - requireFileChecksum: Throw on a whole-file CRC mismatch (true for every load).
    /// - Throws: ``CheckpointError``.
    init(_ bytes: UnsafeRawBufferPointer, path: String?, requireFileChecksum: Bool = true) throws {
        func fail(_ code: CheckpointError.Code, _ message: String) -> CheckpointError {
            CheckpointError(code, message, path: path)
        }
        let size = bytes.count
        let magic = CheckpointFormat.magic
        fileSize = size
        guard size > 0 else { throw fail(.truncated, "the file is empty") }
        for i in 0..<min(size, magic.count) where bytes[i] != magic[i] {
            throw fail(.badMagic, "the file does not start with the checkpoint magic 'SPOTCKPT'")
        }
        guard size >= 12 else { throw fail(.truncated, "the file is \(size) bytes long, too short for a header") }
        majorVersion = CheckpointBytes.load(UInt16.self, bytes, at: 8)
        minorVersion = CheckpointBytes.load(UInt16.self, bytes, at: 10)
        guard majorVersion == CheckpointFormat.majorVersion else {
            throw fail(.unsupportedVersion,
                       "format version \(majorVersion).\(minorVersion) is not supported (this reader reads \(CheckpointFormat.majorVersion).x)")
        }
        let minimum = CheckpointFormat.headerSize + CheckpointFormat.footerSize
        guard size >= minimum else {
            throw fail(.truncated, "the file is \(size) bytes long, shorter than the minimum \(minimum)")
        }
        let marker = CheckpointFormat.endMarker
        for i in 0..<marker.count where bytes[size - marker.count + i] != marker[i] {
            throw fail(.truncated, "the file does not end with the completion marker 'CKPTDONE' (incomplete save or trailing bytes)")
        }
        footerOffset = size - CheckpointFormat.footerSize
        let declaredFooter = CheckpointBytes.load(UInt64.self, bytes, at: footerOffset)
        guard declaredFooter == UInt64(footerOffset) else {
            throw fail(.truncated, "the footer says the data ends at byte \(declaredFooter), but it ends at \(footerOffset)")
        }
        fileChecksum = CheckpointBytes.load(UInt32.self, bytes, at: footerOffset + 12)
        let actual = Zlib.crc32(UnsafeRawBufferPointer(rebasing: bytes[0..<(footerOffset + 12)]))
        fileChecksumValid = actual == fileChecksum
        if requireFileChecksum && !fileChecksumValid {
            throw fail(.checksumMismatch, "file CRC-32 is \(hex32(actual)), the footer records \(hex32(fileChecksum))")
        }

        // Header.
        let headerField = CheckpointBytes.load(UInt32.self, bytes, at: 12)
        guard headerField >= UInt32(CheckpointFormat.headerSize), Int(headerField) <= footerOffset else {
            throw fail(.malformed, "header length \(headerField) is outside \(CheckpointFormat.headerSize)...\(footerOffset)")
        }
        headerLength = Int(headerField)
        let metadataField = CheckpointBytes.load(UInt64.self, bytes, at: 16)
        guard metadataField <= UInt64(footerOffset - headerLength) else {
            throw fail(.malformed, "metadata length \(metadataField) runs past the end of the data (\(footerOffset - headerLength) bytes left)")
        }
        metadataOffset = headerLength
        metadataLength = Int(metadataField)
        metadataChecksum = CheckpointBytes.load(UInt32.self, bytes, at: 24)
        let metadataActual = Zlib.crc32(UnsafeRawBufferPointer(rebasing: bytes[metadataOffset..<(metadataOffset + metadataLength)]))
        metadataChecksumValid = metadataActual == metadataChecksum
        if requireFileChecksum && !metadataChecksumValid {
            throw fail(.checksumMismatch, "metadata CRC-32 is \(hex32(metadataActual)), the header records \(hex32(metadataChecksum))")
        }
        let headerCount = CheckpointBytes.load(UInt32.self, bytes, at: 28)
        let footerCount = CheckpointBytes.load(UInt32.self, bytes, at: footerOffset + 8)
        guard headerCount == footerCount else {
            throw fail(.malformed, "the header declares \(headerCount) records, the footer \(footerCount)")
        }
        recordCount = Int(headerCount)

        // Records.
        records = []
        var names = Set<String>()
        var position = metadataOffset + metadataLength
        while position < footerOffset {
            let index = records.count
            guard index < recordCount else {
                throw fail(.malformed, "\(footerOffset - position) bytes follow the \(recordCount) declared records")
            }
            let record = try CheckpointLayout.parseRecord(bytes, at: position, end: footerOffset, index: index, path: path)
            guard names.insert(record.name).inserted else {
                throw fail(.malformed, "record \(index) repeats the tensor name '\(record.name)'")
            }
            records.append(record)
            position = record.payloadOffset + record.storedLength
        }
        guard records.count == recordCount else {
            throw fail(.malformed, "the header declares \(recordCount) records, the file holds \(records.count)")
        }
    }

    private static func parseRecord(_ bytes: UnsafeRawBufferPointer, at start: Int, end: Int, index: Int,
                                    path: String?) throws -> Record {
        func fail(_ code: CheckpointError.Code, _ message: String) -> CheckpointError {
            CheckpointError(code, "record \(index) at byte \(start): " + message, path: path)
        }
        let available = end - start
        guard available >= CheckpointFormat.recordFixedSize else {
            throw fail(.malformed, "only \(available) bytes remain, fewer than a record header (\(CheckpointFormat.recordFixedSize))")
        }
        let headerLength = CheckpointBytes.load(UInt32.self, bytes, at: start)
        let typeCode = bytes[start + 4], filterCode = bytes[start + 5]
        let compressionCode = bytes[start + 6], rank = Int(bytes[start + 7])
        let nameLength = CheckpointBytes.load(UInt32.self, bytes, at: start + 8)
        let checksum = CheckpointBytes.load(UInt32.self, bytes, at: start + 12)
        let uncompressed = CheckpointBytes.load(UInt64.self, bytes, at: start + 16)
        let stored = CheckpointBytes.load(UInt64.self, bytes, at: start + 24)

        guard rank <= CheckpointFormat.maximumRank else {
            throw fail(.malformed, "rank \(rank) exceeds the limit \(CheckpointFormat.maximumRank)")
        }
        guard nameLength >= 1, Int(nameLength) <= CheckpointFormat.maximumNameLength else {
            throw fail(.malformed, "name length \(nameLength) is outside 1...\(CheckpointFormat.maximumNameLength)")
        }
        let needed = CheckpointFormat.recordFixedSize + 8 * rank + Int(nameLength)
        guard Int(headerLength) >= needed else {
            throw fail(.malformed, "record header length \(headerLength) is less than the \(needed) bytes its fields need")
        }
        guard Int(headerLength) <= available else {
            throw fail(.malformed, "record header length \(headerLength) runs past the end of the data (\(available) bytes left)")
        }
        let dimsOffset = start + CheckpointFormat.recordFixedSize
        let nameOffset = dimsOffset + 8 * rank
        let nameBytes = UnsafeRawBufferPointer(rebasing: bytes[nameOffset..<(nameOffset + Int(nameLength))])
        let name = String(decoding: nameBytes, as: UTF8.self)
        guard name.utf8.elementsEqual(nameBytes) else {
            throw fail(.malformed, "the tensor name is not valid UTF-8")
        }
        func named(_ code: CheckpointError.Code, _ message: String) -> CheckpointError {
            fail(code, "tensor '\(name)': " + message)
        }
        guard let dataType = CheckpointDataType(rawValue: typeCode) else {
            throw named(.unsupportedEncoding, "unknown data type code \(typeCode)")
        }
        guard let filter = CheckpointFilter(rawValue: filterCode) else {
            throw named(.unsupportedEncoding, "unknown filter code \(filterCode)")
        }
        guard let compression = CheckpointCompression(rawValue: compressionCode) else {
            throw named(.unsupportedEncoding, "unknown compression code \(compressionCode)")
        }
        var shape: [Int] = []
        shape.reserveCapacity(rank)
        // The product of the non-zero dimensions must fit, whatever their order: a zero
        // dimension does not excuse a huge one ([0, 2^62, 2^62] is as malformed as
        // [2^62, 2^62, 0]).
        var nonZeroProduct = 1, hasZero = false
        for d in 0..<rank {
            let dim = CheckpointBytes.load(UInt64.self, bytes, at: dimsOffset + 8 * d)
            guard dim <= UInt64(Int.max) else { throw named(.malformed, "dimension \(d) is \(dim), out of range") }
            if dim == 0 {
                hasZero = true
            } else {
                let (product, overflow) = nonZeroProduct.multipliedReportingOverflow(by: Int(dim))
                guard !overflow else { throw named(.malformed, "the element count of its shape overflows") }
                nonZeroProduct = product
            }
            shape.append(Int(dim))
        }
        let (nonZeroBytes, overflow) = nonZeroProduct.multipliedReportingOverflow(by: dataType.byteCount)
        guard !overflow else { throw named(.malformed, "the byte count of its shape \(shape) overflows") }
        let byteLength = hasZero ? 0 : nonZeroBytes
        guard UInt64(byteLength) == uncompressed else {
            throw named(.malformed, "uncompressed length \(uncompressed) does not match shape \(shape) of \(dataType.name)")
        }
        let payloadOffset = start + Int(headerLength)
        let left = end - payloadOffset
        guard stored <= UInt64(left) else {
            throw named(.malformed, "stored length \(stored) runs past the end of the data (\(left) bytes left)")
        }
        switch compression {
        case .none:
            guard stored == uncompressed else {
                throw named(.malformed, "stored length \(stored) differs from uncompressed length \(uncompressed) without compression")
            }
        case .zlib:
            guard uncompressed <= UInt64(CheckpointFormat.maximumZlibLength) else {
                throw named(.malformed, "uncompressed length \(uncompressed) exceeds the zlib record limit \(CheckpointFormat.maximumZlibLength)")
            }
            guard uncompressed <= stored * UInt64(CheckpointFormat.maximumDeflateRatio) else {
                throw named(.malformed, "uncompressed length \(uncompressed) is more than \(CheckpointFormat.maximumDeflateRatio) times the stored length \(stored)")
            }
        }
        return Record(offset: start, headerLength: Int(headerLength), name: name, dataType: dataType,
                      filter: filter, compression: compression, shape: shape, elementCount: hasZero ? 0 : nonZeroProduct,
                      uncompressedLength: byteLength, storedLength: Int(stored), checksum: checksum,
                      payloadOffset: payloadOffset)
    }

    /// Decodes one record's payload into `destination` (exactly its uncompressed length)
    /// and checks its CRC-32.
    /// - Parameters:
    ///   - record: A record of this layout.
    ///   - bytes: The file.
    ///   - destination: `record.uncompressedLength` bytes.
    ///   - scratch: Holds the filtered bytes when the record is shuffled and compressed;
    ///     grown as needed (never beyond `record.uncompressedLength`).
    ///   - path: The file, for errors.
    /// - Throws: ``CheckpointError`` (decompression failure or CRC mismatch).
    static func decodePayload(_ record: Record, from bytes: UnsafeRawBufferPointer,
                              into destination: UnsafeMutableRawBufferPointer,
                              scratch: inout [UInt8], path: String?) throws {
        precondition(destination.count == record.uncompressedLength,
                     "CheckpointLayout.decodePayload: destination \(destination.count) bytes, record needs \(record.uncompressedLength)")
        let payload = UnsafeRawBufferPointer(rebasing: bytes[record.payloadOffset..<(record.payloadOffset + record.storedLength)])
        let elementSize = record.dataType.byteCount
        func unfiltered(_ body: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
            if record.filter == .none {
                try body(destination)
            } else {
                if scratch.count < record.uncompressedLength {
                    scratch = [UInt8](repeating: 0, count: record.uncompressedLength)
                }
                try scratch.withUnsafeMutableBytes { raw in
                    let filtered = UnsafeMutableRawBufferPointer(rebasing: raw[0..<record.uncompressedLength])
                    try body(filtered)
                    ByteShuffle.unshuffle(UnsafeRawBufferPointer(filtered), into: destination, elementSize: elementSize)
                }
            }
        }
        do {
            try unfiltered { target in
                switch record.compression {
                case .none:
                    if target.count > 0 { target.copyMemory(from: payload) }
                case .zlib:
                    try Zlib.decompress(payload, into: target)
                }
            }
        } catch let error as CompressionError {
            throw CheckpointError(.decompressionFailed, "tensor '\(record.name)': \(error.description)", path: path)
        }
        let actual = Zlib.crc32(UnsafeRawBufferPointer(destination))
        guard actual == record.checksum else {
            throw CheckpointError(.checksumMismatch,
                                  "tensor '\(record.name)': " + "CRC-32 of its values is \(hex32(actual)), the record says \(hex32(record.checksum))",
                                  path: path)
        }
    }
}

/// `0x` and eight lowercase hex digits.
func hex32(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}
