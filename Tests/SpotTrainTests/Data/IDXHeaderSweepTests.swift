import Foundation
import Testing
import SpotTrain

/// Every number an IDX header carries, set to hostile values, raw and gzipped: a typed
/// error (never a trap, an overflow or a blind allocation), and MNIST's two headers are
/// checked against each other before either file is decoded.
@Suite struct IDXHeaderSweepTests {
    /// A valid MNIST-like labels file of `n` examples and its images file.
    static func labels(_ n: UInt32) -> [UInt8] {
        IDXFixture.file(typeCode: 0x08, shape: [n], data: (0..<Int(n)).map { UInt8($0 % 10) })
    }
    static func images(_ n: UInt32, side: UInt32 = 28) -> [UInt8] {
        IDXFixture.file(typeCode: 0x08, shape: [n, side, side], data: [UInt8](repeating: 7, count: Int(n * side * side)))
    }

    /// Replaces the 4 header bytes at `offset` with `value` big-endian, or byte `offset` if `byte`.
    static func patched(_ bytes: [UInt8], at offset: Int, _ value: UInt32, byte: Bool = false) -> [UInt8] {
        var b = bytes
        if byte {
            b[offset] = UInt8(truncatingIfNeeded: value)
        } else {
            b.replaceSubrange(offset..<offset + 4, with: IDXFixture.bigEndian(value))
        }
        return b
    }

    /// The hostile values for one 32-bit field.
    static let values: [UInt32] = [0, 1, 2, 27, 29, 255, 256, 5_000_000, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFE, 0xFFFF_FFFF]

    /// Reads `bytes` as a standalone file and as MNIST's training images or labels; any
    /// outcome other than a typed error or a correct load fails the test (a trap ends the
    /// test process, which also fails).
    static func check(_ bytes: [UInt8], asImages: Bool, compressed: Bool, label: String) throws {
        let dir = try TemporaryDirectory()
        let content = compressed ? try IDXFixture.gzip(bytes) : bytes
        let suffix = compressed ? ".gz" : ""
        let path = try dir.write("file" + suffix, content)
        let reader = IDXReader(maximumDataBytes: 1 << 26)
        do {
            let header = try reader.readHeader(path)
            let file = try reader.read(path)
            #expect(file.shape == header.shape, "\(label)")
            #expect(header.dataBytes == file.data.count, "\(label)")
        } catch is IDXError {
        } catch {
            Issue.record("\(label): untyped error \(error)")
        }
        // As one half of an MNIST split, the other half valid with 3 examples.
        let images = asImages ? content : (compressed ? try IDXFixture.gzip(Self.images(3)) : Self.images(3))
        let labels = asImages ? (compressed ? try IDXFixture.gzip(Self.labels(3)) : Self.labels(3)) : content
        let imagesPath = try dir.write("images" + suffix, images)
        let labelsPath = try dir.write("labels" + suffix, labels)
        do {
            let split = try MNIST.loadSplit(images: imagesPath, labels: labelsPath, reader: reader)
            #expect(split.count == 3, "\(label): loaded \(split.count) examples")
        } catch is IDXError {
        } catch is MNISTError {
        } catch {
            Issue.record("\(label): untyped error \(error)")
        }
    }

    @Test(arguments: [false, true])
    func everyHeaderFieldWithHostileValuesGivesATypedError(compressed: Bool) throws {
        for asImages in [true, false] {
            let base = asImages ? Self.images(3) : Self.labels(3)
            let rank = Int(base[3])
            // The magic bytes and the type code.
            for offset in 0...2 {
                for value: UInt32 in [0, 1, 0x08, 0x0D, 0x0E, 0x1F, 0x8B, 0xFF] {
                    try Self.check(Self.patched(base, at: offset, value, byte: true), asImages: asImages,
                                   compressed: compressed, label: "byte \(offset) = \(value)")
                }
            }
            // The rank.
            for value: UInt32 in [0, 1, 2, 3, 4, 254, 255] {
                try Self.check(Self.patched(base, at: 3, value, byte: true), asImages: asImages,
                               compressed: compressed, label: "rank = \(value)")
            }
            // Every dimension (the count is dimension 0).
            for d in 0..<rank {
                for value in Self.values {
                    try Self.check(Self.patched(base, at: 4 + 4 * d, value), asImages: asImages,
                                   compressed: compressed, label: "\(asImages ? "images" : "labels") dim \(d) = \(value)")
                }
            }
            // Truncated anywhere, and over-long.
            for cut in [0, 1, 3, 4, 5, 7, 8, 4 + 4 * rank - 1, 4 + 4 * rank, base.count - 1] {
                try Self.check(Array(base[0..<cut]), asImages: asImages, compressed: compressed, label: "cut at \(cut)")
            }
            try Self.check(base + [0], asImages: asImages, compressed: compressed, label: "one byte too many")
            try Self.check(base + [UInt8](repeating: 0, count: 4096), asImages: asImages, compressed: compressed,
                           label: "4 KiB too many")
        }
    }

    @Test(arguments: [false, true])
    func headerCountsThatDisagreeAreRejectedBeforeDecoding(compressed: Bool) throws {
        let dir = try TemporaryDirectory()
        let labelsPath = try dir.write("labels", compressed ? try IDXFixture.gzip(Self.labels(256)) : Self.labels(256))
        // The repro's shape: a header claiming 5,000,000 images and nothing behind it. It is
        // rejected from its header (its own size check or the count check), never inflated.
        let imagesHeader = Array(Self.images(0)[0..<16])
        let lying = Self.patched(imagesHeader, at: 4, 5_000_000)
        let lyingPath = try dir.write("lying", compressed ? try IDXFixture.gzip(lying) : lying)
        do {
            _ = try MNIST.loadSplit(images: lyingPath, labels: labelsPath)
            Issue.record("loaded a split whose headers disagree")
        } catch let error as MNISTError {
            #expect(error.code == .countMismatch, "\(error)")
        } catch let error as IDXError {
            #expect(error.code == .truncatedData && error.message.contains("3920000000"), "\(error)")
        }
        // 255 images whose compressed data is corrupt after the header, against 256 labels:
        // the count mismatch is reported from the headers (decoding would report corruption).
        var images = compressed ? try IDXFixture.gzip(Self.images(255), level: 0) : Self.images(255)
        if compressed { for i in 200..<images.count - 8 { images[i] = 0xA5 } }
        let imagesPath = try dir.write("images", images)
        let error = try #require(throws: MNISTError.self) { try MNIST.loadSplit(images: imagesPath, labels: labelsPath) }
        #expect(error.code == .countMismatch)
        #expect(error.message.contains("255 images") && error.message.contains("256 labels"), "\(error)")
        // The same with 256 images of 27 × 28: the shape, from the header.
        var narrow = compressed ? try IDXFixture.gzip(Self.images(256, side: 28), level: 0) : Self.images(256)
        if compressed {
            for i in 200..<narrow.count - 8 { narrow[i] = 0xA5 }
            // The IDX header sits in the stored block: 10 gzip + 5 block header bytes.
            narrow[15 + 11] = 27
        } else {
            narrow = IDXFixture.file(typeCode: 0x08, shape: [256, 27, 28], data: [UInt8](repeating: 1, count: 256 * 27 * 28))
        }
        let narrowPath = try dir.write("narrow", narrow)
        let shapeError = try #require(throws: MNISTError.self) { try MNIST.loadSplit(images: narrowPath, labels: labelsPath) }
        #expect(shapeError.code == .unexpectedShape, "\(shapeError)")
    }

    @Test func compressedFileTooSmallForItsClaimIsRejectedFromTheHeader() throws {
        let dir = try TemporaryDirectory()
        // 256 × 28 × 28 zero bytes compress to a few hundred bytes; the header claims 40,000
        // images (31 MB), more than deflate can expand those bytes to (1032:1).
        let content = Self.patched(Self.images(256), at: 4, 40_000)
        let path = try dir.write("images.gz", try IDXFixture.gzip(content, level: 9))
        let error = try #require(throws: IDXError.self) { try IDXReader().readHeader(path) }
        #expect(error.code == .truncatedData)
        #expect(error.message.contains("1032"), "\(error)")
    }

    @Test func headerOfAGzipFileIsReadWithoutDecodingItsData() throws {
        let dir = try TemporaryDirectory()
        // A valid header, then a corrupt deflate stream: reading the header succeeds, reading
        // the file fails on the corruption.
        var bytes = try IDXFixture.gzip(Self.images(64), level: 0)
        for i in 200..<bytes.count - 8 { bytes[i] = 0xA5 }
        let path = try dir.write("images.gz", bytes)
        let header = try IDXReader().readHeader(path)
        #expect(header.shape == [64, 28, 28] && header.dataType == .uint8 && header.isCompressed)
        #expect(throws: IDXError.self) { try IDXReader().read(path) }
    }
}
