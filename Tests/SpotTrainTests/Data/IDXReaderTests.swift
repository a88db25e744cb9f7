import Foundation
import Testing
import SpotTrain

@Suite struct IDXReaderTests {
    /// Sample values that exercise sign and byte order for each type.
    static func sampleValues(_ type: IDXDataType, count: Int) -> [Double] {
        let pool: [Double]
        switch type {
        case .uint8: pool = [0, 1, 127, 128, 200, 255]
        case .int8: pool = [0, -1, 127, -128, 5, -77]
        case .int16: pool = [0, -2, 300, -32768, 32767, 4096]
        case .int32: pool = [0, -70000, 16_777_216, -2_147_483_648, 2_147_483_647, 65537]
        case .float32: pool = [0, -1.5, 3.25, 1e-20, -6.5e10, 0.1]
        case .float64: pool = [0, -1.5, 0.1, 1e-300, 123456789.125, -2.75]
        }
        return (0..<count).map { pool[$0 % pool.count] }
    }

    static let shapes: [[UInt32]] = [[7], [3, 4], [2, 3, 2], [2, 1, 3, 2]]

    @Test(arguments: IDXDataType.allCases, [false, true])
    func readsEveryDataTypeAndRank(type: IDXDataType, compressed: Bool) throws {
        let dir = try TemporaryDirectory()
        for shape in Self.shapes {
            let n = shape.reduce(1) { $0 * Int($1) }
            let values = Self.sampleValues(type, count: n)
            var bytes = IDXFixture.file(typeCode: type.rawValue, shape: shape, data: IDXFixture.encode(values, as: type))
            if compressed { bytes = try IDXFixture.gzip(bytes) }
            // A name without ".gz": compression is detected from the content.
            let path = try dir.write("\(type)-rank\(shape.count)", bytes)
            let file = try IDXReader().read(path)
            #expect(file.dataType == type)
            #expect(file.shape == shape.map(Int.init))
            #expect(file.count == n)
            #expect(file.floatValues() == values.map { Float($0) })
            if type.isInteger {
                #expect(file.integerValues() == values.map { Int($0) })
            } else {
                #expect(file.integerValues() == nil)
            }
            #expect((file.uint8Values != nil) == (type == .uint8))
        }
    }

    @Test func makeTensorScalesAndTakesLeadingElements() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("images", IDXFixture.file(typeCode: 0x08, shape: [3, 2, 2], data: [0, 51, 102, 255, 1, 2, 3, 4, 5, 6, 7, 8]))
        let file = try IDXReader().read(path)
        let all = file.makeTensor(dividingBy: 255)
        #expect(all.shape == [3, 2, 2])
        #expect(all.scalars.prefix(4) == [0, 0.2, 0.4, 1])
        let first = file.makeTensor(shape: [2, 2, 2, 1])
        #expect(first.shape == [2, 2, 2, 1])
        #expect(first.scalars == [0, 51, 102, 255, 1, 2, 3, 4])
    }

    @Test func readsLargeGzipAcrossManyChunks() throws {
        // Several 64 KiB read chunks and 16 KiB inflate slices, poorly compressible content.
        let dir = try TemporaryDirectory()
        let n = 300_000
        var state: UInt64 = 12345
        let data = (0..<n).map { _ -> UInt8 in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
        let path = try dir.write("big.gz", IDXFixture.gzip(IDXFixture.file(typeCode: 0x08, shape: [UInt32(n)], data: data), level: 1))
        let file = try IDXReader().read(path)
        #expect(file.uint8Values == data)
    }

    @Test func readsConcatenatedGzipMembersIncludingAtAChunkBoundary() throws {
        let dir = try TemporaryDirectory()
        let content = IDXFixture.file(typeCode: 0x08, shape: [40_000], data: (0..<40_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        // A stored (level 0) first member sized so that it ends exactly at the reader's
        // 16 KiB inflate slice boundary: gzip overhead 18, stored-block overhead 5 per block.
        let firstLength = 16_384 - 18 - 5
        let first = try IDXFixture.gzip(Array(content[..<firstLength]), level: 0)
        try #require(first.count == 16_384, "fixture member is \(first.count) bytes")
        let second = try IDXFixture.gzip(Array(content[firstLength...]))
        let file = try IDXReader().read(try dir.write("members.gz", first + second))
        #expect(file.shape == [40_000])
        #expect(file.data == Array(content[8...]))

        // And members split at an arbitrary point.
        let split = try IDXFixture.gzip(Array(content[..<1000])) + IDXFixture.gzip(Array(content[1000...]))
        #expect(try IDXReader().read(try dir.write("split.gz", split)).data == Array(content[8...]))
    }

    @Test func readsMaximumRankAndEmptyDimensions() throws {
        let dir = try TemporaryDirectory()
        let tall = try IDXReader().read(try dir.write("rank255", IDXFixture.file(typeCode: 0x0C, shape: Array(repeating: 1, count: 255), data: [0, 0, 1, 0])))
        #expect(tall.rank == 255)
        #expect(tall.integerValues() == [256])
        let empty = try IDXReader().read(try dir.write("empty", IDXFixture.file(typeCode: 0x0D, shape: [0, 3], data: [])))
        #expect(empty.shape == [0, 3])
        #expect(empty.floatValues().isEmpty)
    }

    // MARK: Bad input

    /// Reads `bytes` written as `name` and returns the error, checking that it names the file.
    func failure(_ bytes: [UInt8], name: String = "bad-file", reader: IDXReader = IDXReader()) throws -> IDXError {
        let dir = try TemporaryDirectory()
        let path = try dir.write(name, bytes)
        let error = try #require(throws: IDXError.self) { try reader.read(path) }
        #expect(error.path == path)
        #expect(error.description.hasPrefix(path + ": "))
        return error
    }

    @Test func readerRejectsMissingFile() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/nope-idx1-ubyte"
        let error = try #require(throws: IDXError.self) { try IDXReader().read(path) }
        #expect(error.code == .missingFile)
        #expect(error.description.contains(path))
    }

    @Test func readerRejectsDirectory() throws {
        let dir = try TemporaryDirectory()
        let error = try #require(throws: IDXError.self) { try IDXReader().read(dir.path) }
        #expect(error.code == .readFailed)
        #expect(error.description.contains(dir.path))
    }

    @Test func readerRejectsWrongMagic() throws {
        let bytes = [0x01, 0x00, 0x08, 0x01, 0, 0, 0, 1, 9] as [UInt8]
        let raw = try failure(bytes)
        #expect(raw.code == .badMagic)
        #expect(raw.message.contains("01 00"))
        #expect(try failure(IDXFixture.gzip(bytes)).code == .badMagic)
        #expect(try failure(Array("hello, world".utf8)).code == .badMagic)
    }

    @Test func readerRejectsUnknownDataType() throws {
        let error = try failure([0, 0, 0x0A, 1, 0, 0, 0, 1, 9])
        #expect(error.code == .unknownDataType)
        #expect(error.message.contains("0x0A"))
        #expect(try failure(IDXFixture.gzip([0, 0, 0x07, 1, 0, 0, 0, 1, 9])).code == .unknownDataType)
    }

    @Test func readerRejectsZeroDimensions() throws {
        #expect(try failure([0, 0, 0x08, 0, 42]).code == .badRank)
        #expect(try failure(IDXFixture.gzip([0, 0, 0x08, 0, 42])).code == .badRank)
    }

    @Test func readerRejectsTruncatedHeader() throws {
        #expect(try failure([]).code == .truncatedHeader)
        #expect(try failure([0, 0]).code == .truncatedHeader)
        let cut = try failure([0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0])
        #expect(cut.code == .truncatedHeader)
        #expect(cut.message.contains("16"))
        #expect(try failure(IDXFixture.gzip([0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0])).code == .truncatedHeader)
        #expect(try failure(IDXFixture.gzip([])).code == .truncatedHeader)
    }

    @Test func readerRejectsTruncatedDataWithCounts() throws {
        // int16 [3, 2] needs 12 data bytes; 10 are present.
        let bytes = IDXFixture.file(typeCode: 0x0B, shape: [3, 2], data: Array(repeating: 1, count: 10))
        let raw = try failure(bytes)
        #expect(raw.code == .truncatedData)
        #expect(raw.message.contains("12") && raw.message.contains("10"))
        let gz = try failure(IDXFixture.gzip(bytes), name: "bad.gz")
        #expect(gz.code == .truncatedData)
        #expect(gz.message.contains("12") && gz.message.contains("10"))
    }

    @Test func readerRejectsHeaderClaimingMoreThanTheFile() throws {
        // MNIST-sized claim over 10 bytes: rejected before any allocation of the claimed size.
        let bytes = IDXFixture.file(typeCode: 0x08, shape: [60000, 28, 28], data: Array(repeating: 0, count: 10))
        let raw = try failure(bytes)
        #expect(raw.code == .truncatedData)
        #expect(raw.message.contains("47040000"))
        // Compressed, the claim cannot be checked up front; the data only grows as it arrives.
        #expect(try failure(IDXFixture.gzip(bytes)).code == .truncatedData)
    }

    @Test func readerRejectsTrailingData() throws {
        let bytes = IDXFixture.file(typeCode: 0x08, shape: [4], data: [1, 2, 3, 4, 5, 6])
        let raw = try failure(bytes)
        #expect(raw.code == .trailingData)
        #expect(raw.message.contains("2 unexpected bytes"))
        #expect(try failure(IDXFixture.gzip(bytes)).code == .trailingData)
        // Bytes after the end of a valid gzip stream.
        let valid = IDXFixture.file(typeCode: 0x08, shape: [4], data: [1, 2, 3, 4])
        let after = try failure(IDXFixture.gzip(valid) + [0, 0, 0])
        #expect(after.code == .trailingData)
        #expect(after.message.contains("3 unexpected bytes"))
    }

    @Test func readerStopsAGzipBombAtTheHeaderClaim() throws {
        // 64 MiB of zeros compress to ~64 KiB; the header claims 100 bytes.
        let bomb = try IDXFixture.gzip(IDXFixture.file(typeCode: 0x08, shape: [100], data: Array(repeating: 0, count: 1 << 26)), level: 9)
        #expect(bomb.count < 1 << 18)
        #expect(try failure(bomb, name: "bomb.gz").code == .trailingData)
    }

    @Test func readerRejectsOverflowingDimensions() throws {
        let elements = try failure(IDXFixture.file(typeCode: 0x08, shape: [0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF], data: []))
        #expect(elements.code == .sizeOverflow)
        // The element count fits, the byte count (× 8) does not.
        let bytes = try failure(IDXFixture.file(typeCode: 0x0E, shape: [0x8000_0000, 0x8000_0000], data: []))
        #expect(bytes.code == .sizeOverflow)
        #expect(try failure(IDXFixture.gzip(IDXFixture.file(typeCode: 0x08, shape: [0xFFFF_FFFF, 0xFFFF_FFFF, 3], data: []))).code == .sizeOverflow)
    }

    @Test func readerRejectsDataAboveTheMaximum() throws {
        let bytes = IDXFixture.file(typeCode: 0x0D, shape: [10, 10], data: Array(repeating: 0, count: 400))
        let small = IDXReader(maximumDataBytes: 399)
        let error = try failure(bytes, reader: small)
        #expect(error.code == .tooLarge)
        #expect(error.message.contains("400") && error.message.contains("399"))
        #expect(try failure(IDXFixture.gzip(bytes), reader: small).code == .tooLarge)
        let dir = try TemporaryDirectory()
        #expect(try IDXReader(maximumDataBytes: 400).read(try dir.write("ok", bytes)).count == 100)
        // The default maximum (4 GiB) applies before the file size is considered.
        #expect(try failure(IDXFixture.file(typeCode: 0x08, shape: [100_000, 100_000], data: [])).code == .tooLarge)
    }

    @Test func readerRejectsCorruptGzip() throws {
        let content = IDXFixture.file(typeCode: 0x08, shape: [1000], data: (0..<1000).map { UInt8($0 % 251) })
        let good = try IDXFixture.gzip(content)
        // A wrong CRC-32 in the trailer.
        var badCRC = good
        badCRC[good.count - 8] ^= 0xFF
        let crc = try failure(badCRC)
        #expect(crc.code == .corruptCompression)
        #expect(crc.underlying is CompressionError)
        // A wrong ISIZE.
        var badSize = good
        badSize[good.count - 1] ^= 0x01
        #expect(try failure(badSize).code == .corruptCompression)
        // Garbage deflate data (an invalid block type).
        var badBlock = good
        badBlock[10] = 0xFF
        #expect(try failure(badBlock).code == .corruptCompression)
    }

    @Test func readerRejectsTruncatedGzip() throws {
        let content = IDXFixture.file(typeCode: 0x08, shape: [5000], data: (0..<5000).map { UInt8(truncatingIfNeeded: $0 * 31) })
        let good = try IDXFixture.gzip(content)
        // Cut in the middle of the deflate data: the data is short.
        let middle = try failure(Array(good[..<(good.count / 2)]))
        #expect(middle.code == .truncatedData)
        // Only the 8-byte trailer is missing: all data arrived but the stream is unverified.
        let trailer = try failure(Array(good[..<(good.count - 8)]))
        #expect(trailer.code == .corruptCompression)
        #expect(trailer.message.contains("trailer"))
        // Just the gzip magic.
        #expect(try failure([0x1F, 0x8B]).code == .truncatedHeader)
    }
}
