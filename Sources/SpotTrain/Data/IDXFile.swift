/// The decoded contents of one IDX file: its element type, its shape and its data.
///
/// The data is kept exactly as stored (``data``: multi-byte elements big-endian), so
/// nothing is converted twice; ``uint8Values``, ``integerValues()``, ``floatValues(dividingBy:)``
/// and ``makeTensor(shape:dividingBy:)`` decode it on demand.
public struct IDXFile: Sendable {
    /// The path the file was read from.
    public let path: String
    /// The element type from the header.
    public let dataType: IDXDataType
    /// The dimensions from the header, outermost first (1 to 255 of them).
    public let shape: [Int]
    /// The data section as stored in the file: ``count`` elements of
    /// ``IDXDataType/byteWidth`` bytes each, row-major, multi-byte elements big-endian.
    public let data: [UInt8]

    /// Creates a file value from parts that have already been validated.
    ///
    /// - Parameters:
    ///   - path: Where the data came from.
    ///   - dataType: The element type.
    ///   - shape: The dimensions; the product times `dataType.byteWidth` must equal `data.count`.
    ///   - data: The data section, as stored in an IDX file.
    public init(path: String, dataType: IDXDataType, shape: [Int], data: [UInt8]) {
        let elements = Tensor.elementCount(shape)
        precondition(elements.multipliedReportingOverflow(by: dataType.byteWidth) == (data.count, false),
                     "IDXFile: shape \(shape) of \(dataType) needs \(elements) × \(dataType.byteWidth) bytes, data has \(data.count)")
        self.path = path
        self.dataType = dataType
        self.shape = shape
        self.data = data
    }

    /// The number of elements (the product of ``shape``).
    public var count: Int { data.count / dataType.byteWidth }

    /// The number of dimensions.
    public var rank: Int { shape.count }

    /// The raw bytes when the element type is ``IDXDataType/uint8`` (for example class
    /// labels), `nil` otherwise.
    public var uint8Values: [UInt8]? { dataType == .uint8 ? data : nil }

    /// The elements as `Int`s when the element type is an integer type, `nil` for float types.
    /// - Returns: ``count`` values in row-major order, or `nil`.
    public func integerValues() -> [Int]? {
        guard dataType.isInteger else { return nil }
        let n = count
        return [Int](unsafeUninitializedCapacity: n) { out, initialized in
            data.withUnsafeBytes { raw in
                for i in 0..<n { out.initializeElement(at: i, to: IDXFile.integer(raw, dataType, i)) }
            }
            initialized = n
        }
    }

    /// All elements converted to `Float` and divided by `divisor`.
    ///
    /// `int32` values beyond ±2²⁴ and `float64` values are rounded to the nearest `Float`.
    /// - Parameter divisor: Each value is divided by it (`255` scales `uint8` pixels to [0, 1]).
    /// - Returns: ``count`` values in row-major order.
    public func floatValues(dividingBy divisor: Float = 1) -> [Float] {
        let n = count
        return [Float](unsafeUninitializedCapacity: n) { out, initialized in
            if let base = out.baseAddress { convert(0..<n, into: base, dividingBy: divisor) }
            initialized = n
        }
    }

    /// The leading elements as a tensor of the given shape, converted to `Float` and divided
    /// by `divisor`.
    ///
    /// For example, a `[60000, 28, 28]` uint8 file gives MNIST's NHWC images with
    /// `makeTensor(shape: [60000, 28, 28, 1], dividingBy: 255)`, and its first 1000 images
    /// with `shape: [1000, 28, 28, 1]`.
    /// - Parameters:
    ///   - shape: The tensor's shape; `nil` means ``shape``. Its element count must not
    ///     exceed ``count``; the first that many elements are used.
    ///   - divisor: Each value is divided by it.
    /// - Returns: A new tensor.
    public func makeTensor(shape: [Int]? = nil, dividingBy divisor: Float = 1) -> Tensor {
        let targetShape = shape ?? self.shape
        let n = Tensor.elementCount(targetShape)
        precondition(n <= count,
                     "IDXFile.makeTensor: shape \(targetShape) needs \(n) elements, \(path) has \(count) (shape \(self.shape))")
        let tensor = Tensor(shape: targetShape, storage: TensorStorage(uninitializedCount: n))
        convert(0..<n, into: tensor.pointer, dividingBy: divisor)
        return tensor
    }

    /// Converts the elements in `range` to `Float`, divides them by `divisor` and writes them
    /// to `destination[0..<range.count]`, in parallel for large ranges.
    /// - Parameters:
    ///   - range: Element indices within `0..<count`.
    ///   - destination: Room for `range.count` floats.
    ///   - divisor: Each value is divided by it.
    public func convert(_ range: Range<Int>, into destination: UnsafeMutablePointer<Float>, dividingBy divisor: Float = 1) {
        precondition(range.lowerBound >= 0 && range.upperBound <= count,
                     "IDXFile.convert: range \(range) is outside 0..<\(count)")
        let type = dataType
        let start = range.lowerBound
        data.withUnsafeBytes { raw in
            // The type switch sits outside the element loops so that each loop is a tight,
            // vectorisable conversion.
            Parallel.forChunks(count: range.count, minimumChunk: 1 << 16) { chunk in
                let base = raw.baseAddress!
                switch type {
                case .uint8:
                    let p = base.assumingMemoryBound(to: UInt8.self) + start
                    for i in chunk { destination[i] = Float(p[i]) / divisor }
                case .int8:
                    let p = base.assumingMemoryBound(to: Int8.self) + start
                    for i in chunk { destination[i] = Float(p[i]) / divisor }
                default:
                    for i in chunk { destination[i] = IDXFile.float(raw, type, start + i) / divisor }
                }
            }
        }
    }

    // MARK: Element decoding (big-endian)

    @inline(__always)
    static func integer(_ raw: UnsafeRawBufferPointer, _ type: IDXDataType, _ i: Int) -> Int {
        switch type {
        case .uint8: return Int(raw[i])
        case .int8: return Int(Int8(bitPattern: raw[i]))
        case .int16: return Int(Int16(bitPattern: UInt16(bigEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))))
        case .int32: return Int(Int32(bitPattern: UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))))
        case .float32, .float64: preconditionFailure("IDXFile.integer: \(type) is not an integer type")
        }
    }

    @inline(__always)
    static func float(_ raw: UnsafeRawBufferPointer, _ type: IDXDataType, _ i: Int) -> Float {
        switch type {
        case .uint8: return Float(raw[i])
        case .int8: return Float(Int8(bitPattern: raw[i]))
        case .int16: return Float(Int16(bitPattern: UInt16(bigEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))))
        case .int32: return Float(Int32(bitPattern: UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))))
        case .float32: return Float(bitPattern: UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
        case .float64: return Float(Double(bitPattern: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
        }
    }
}
