/// The element types an IDX file can hold, by the code in the third header byte.
///
/// Multi-byte values are stored big-endian (most significant byte first).
public enum IDXDataType: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Unsigned 8-bit integer (code `0x08`), as in MNIST images and labels.
    case uint8 = 0x08
    /// Signed 8-bit integer (code `0x09`).
    case int8 = 0x09
    /// Signed 16-bit integer, big-endian (code `0x0B`).
    case int16 = 0x0B
    /// Signed 32-bit integer, big-endian (code `0x0C`).
    case int32 = 0x0C
    /// IEEE 754 32-bit float, big-endian (code `0x0D`).
    case float32 = 0x0D
    /// IEEE 754 64-bit float, big-endian (code `0x0E`).
    case float64 = 0x0E

    /// The size of one element in bytes.
    public var byteWidth: Int {
        switch self {
        case .uint8, .int8: return 1
        case .int16: return 2
        case .int32, .float32: return 4
        case .float64: return 8
        }
    }

    /// Whether the elements are integers.
    public var isInteger: Bool { self != .float32 && self != .float64 }

    /// The type's name and code, for example `uint8 (0x08)`.
    public var description: String {
        let name: String
        switch self {
        case .uint8: name = "uint8"
        case .int8: name = "int8"
        case .int16: name = "int16"
        case .int32: name = "int32"
        case .float32: name = "float32"
        case .float64: name = "float64"
        }
        return "\(name) (0x\(String(rawValue, radix: 16, uppercase: true).leftPadded(to: 2)))"
    }
}

extension String {
    /// The string padded with leading zeros to `width` characters.
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
