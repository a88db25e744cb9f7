import Foundation
import SpotTrain

/// A fresh directory under the system temp directory, removed on deinit.
final class TemporaryDirectory {
    let path: String

    init() throws {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("spottrain-data-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        path = url.path
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `bytes` to `name` in the directory and returns the full path.
    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let file = path + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        return file
    }
}

/// Builders for IDX files and gzip members, written independently of the reader.
enum IDXFixture {
    /// An IDX header followed by `data`.
    static func file(typeCode: UInt8, shape: [UInt32], data: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = [0, 0, typeCode, UInt8(shape.count)]
        for d in shape { bytes += bigEndian(d) }
        return bytes + data
    }

    static func bigEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }

    static func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.littleEndian) { Array($0) }
    }

    /// Big-endian encodings of `values` for each IDX type.
    static func encode(_ values: [Double], as type: IDXDataType) -> [UInt8] {
        values.flatMap { v -> [UInt8] in
            switch type {
            case .uint8: return [UInt8(v)]
            case .int8: return [UInt8(bitPattern: Int8(v))]
            case .int16: return bigEndian(Int16(v))
            case .int32: return bigEndian(Int32(v))
            case .float32: return bigEndian(Float(v).bitPattern)
            case .float64: return bigEndian(v.bitPattern)
            }
        }
    }

    /// One gzip member (RFC 1952): 10-byte header, raw deflate, CRC-32, ISIZE.
    /// The deflate data is taken from a zlib stream (bytes 2..<count-4).
    static func gzip(_ content: [UInt8], level: Int32 = 6) throws -> [UInt8] {
        let zlib = try content.withUnsafeBytes { try Zlib.compress($0, level: level) }
        let deflate = Array(zlib[2..<(zlib.count - 4)])
        let header: [UInt8] = [0x1F, 0x8B, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xFF]
        return header + deflate + littleEndian(Zlib.crc32(content)) + littleEndian(UInt32(truncatingIfNeeded: content.count))
    }
}
