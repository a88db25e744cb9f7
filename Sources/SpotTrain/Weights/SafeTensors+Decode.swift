extension SafeTensors {
    /// Decodes the bytes of a safetensors file, strictly.
    ///
    /// Checked, in order: the 8-byte header length against ``maximumHeaderBytes`` and the
    /// bytes present; the header as JSON of the safetensors form (an object of tensor
    /// entries with exactly `dtype`, `shape` and `data_offsets`, and an optional
    /// `__metadata__` object of strings; a name used twice is refused, as is anything after
    /// the object but spaces); each tensor's `dtype` (`F32` only); each shape (rank at most
    /// ``maximumRank``, element count without overflow); each `data_offsets` pair
    /// (`begin <= end <= data size`, `end - begin` = 4 × elements); and that the tensors
    /// cover the data section exactly, without overlap or unused bytes.
    /// - Parameters:
    ///   - bytes: The whole file.
    ///   - path: The file's name, for errors.
    /// - Returns: The tensors in data-section order, and the metadata.
    /// - Throws: ``WeightsError`` naming the file and, when one is at fault, the tensor.
    public static func decode(_ bytes: [UInt8], path: String? = nil) throws -> SafeTensors {
        guard bytes.count >= 8 else {
            throw WeightsError(.truncated, "the file has \(bytes.count) bytes, fewer than the 8 of its header length", path: path)
        }
        var length: UInt64 = 0
        for i in 0..<8 { length |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard length <= UInt64(maximumHeaderBytes) else {
            throw WeightsError(.headerTooLarge, "the header length \(length) exceeds the limit of \(maximumHeaderBytes) bytes", path: path)
        }
        let headerLength = Int(length)
        guard headerLength <= bytes.count - 8 else {
            throw WeightsError(.truncated, "the header length \(headerLength) runs past the end of the file "
                               + "(\(bytes.count - 8) bytes after the length)", path: path)
        }
        var parser = HeaderParser(bytes: bytes[8..<(8 + headerLength)], path: path)
        let (entries, metadata) = try parser.parseHeader()
        let dataStart = 8 + headerLength
        let dataSize = bytes.count - dataStart

        // Offsets and shapes, before any allocation.
        var spans: [(begin: Int, end: Int, index: Int)] = []
        for (index, entry) in entries.enumerated() {
            guard entry.dtype == "F32" else {
                throw WeightsError(.unsupportedDataType, "data type '\(entry.dtype)' is not supported (SpotTrain reads F32 only)",
                                   path: path, tensor: entry.name)
            }
            guard entry.shape.count <= maximumRank else {
                throw WeightsError(.malformedHeader, "rank \(entry.shape.count) exceeds \(maximumRank)", path: path, tensor: entry.name)
            }
            var elements = 1
            for dimension in entry.shape {
                let (product, overflow) = elements.multipliedReportingOverflow(by: dimension)
                guard !overflow else {
                    throw WeightsError(.malformedHeader, "shape \(entry.shape) has too many elements", path: path, tensor: entry.name)
                }
                elements = product
            }
            let (byteCount, overflow) = elements.multipliedReportingOverflow(by: 4)
            guard !overflow else {
                throw WeightsError(.malformedHeader, "shape \(entry.shape) has too many elements", path: path, tensor: entry.name)
            }
            let (begin, end) = entry.offsets
            guard begin <= end, end <= dataSize else {
                throw WeightsError(.badOffsets, "data_offsets [\(begin), \(end)] are outside the data section of \(dataSize) bytes",
                                   path: path, tensor: entry.name)
            }
            guard end - begin == byteCount else {
                throw WeightsError(.badOffsets, "data_offsets [\(begin), \(end)] hold \(end - begin) bytes, "
                                   + "shape \(entry.shape) needs \(byteCount)", path: path, tensor: entry.name)
            }
            spans.append((begin, end, index))
        }
        spans.sort { ($0.begin, $0.end, $0.index) < ($1.begin, $1.end, $1.index) }
        var covered = 0
        for span in spans {
            let name = entries[span.index].name
            guard span.begin >= covered else {
                throw WeightsError(.badOffsets, "data_offsets [\(span.begin), \(span.end)] overlap another tensor's "
                                   + "(bytes up to \(covered) are taken)", path: path, tensor: name)
            }
            guard span.begin == covered else {
                throw WeightsError(.badOffsets, "bytes \(covered)..<\(span.begin) of the data section belong to no tensor",
                                   path: path, tensor: name)
            }
            covered = span.end
        }
        guard covered == dataSize else {
            throw WeightsError(.badOffsets, "bytes \(covered)..<\(dataSize) of the data section belong to no tensor", path: path)
        }

        // Every size is now bounded by the bytes present.
        var tensors: [NamedTensor] = []
        tensors.reserveCapacity(spans.count)
        bytes.withUnsafeBytes { raw in
            for span in spans {
                let entry = entries[span.index]
                let count = (span.end - span.begin) / 4
                let storage = TensorStorage(uninitializedCount: count)
                let source = UnsafeRawBufferPointer(rebasing: raw[(dataStart + span.begin)..<(dataStart + span.end)])
                for i in 0..<count {
                    let bits = source.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)
                    (storage.pointer + i).initialize(to: Float(bitPattern: UInt32(littleEndian: bits)))
                }
                tensors.append(NamedTensor(name: entry.name, tensor: Tensor(shape: entry.shape, storage: storage)))
            }
        }
        return SafeTensors(tensors: tensors, metadata: metadata)
    }
}

/// One tensor entry of a safetensors header.
struct SafeTensorsEntry {
    var name: String
    var dtype: String
    var shape: [Int]
    var offsets: (Int, Int)
}

/// A strict parser of the safetensors header: JSON restricted to the form the format
/// defines, so that nesting is bounded, every number is a non-negative integer that fits
/// an `Int`, and duplicate keys are found (a generic JSON decoder keeps one silently).
struct HeaderParser {
    let bytes: ArraySlice<UInt8>
    let path: String?
    var position: Int

    init(bytes: ArraySlice<UInt8>, path: String?) {
        self.bytes = bytes
        self.path = path
        self.position = bytes.startIndex
    }

    private func fail(_ message: String, tensor: String? = nil) -> WeightsError {
        WeightsError(.malformedHeader, "header byte \(position - bytes.startIndex): " + message, path: path, tensor: tensor)
    }

    private mutating func skipWhitespace() {
        while position < bytes.endIndex, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
    }

    private mutating func expect(_ byte: UInt8, _ what: String) throws {
        skipWhitespace()
        guard position < bytes.endIndex, bytes[position] == byte else { throw fail("expected \(what)") }
        position += 1
    }

    /// Consumes `byte` if it is next (after whitespace).
    private mutating func take(_ byte: UInt8) -> Bool {
        skipWhitespace()
        guard position < bytes.endIndex, bytes[position] == byte else { return false }
        position += 1
        return true
    }

    /// Parses `{ … }` calling `member` for each key; refuses duplicate keys.
    private mutating func object(_ member: (inout HeaderParser, String) throws -> Void) throws {
        try expect(UInt8(ascii: "{"), "'{'")
        var keys = Set<String>()
        if take(UInt8(ascii: "}")) { return }
        repeat {
            let key = try string()
            guard keys.insert(key).inserted else { throw fail("the name '\(key)' appears twice", tensor: key) }
            try expect(UInt8(ascii: ":"), "':' after '\(key)'")
            try member(&self, key)
        } while take(UInt8(ascii: ","))
        try expect(UInt8(ascii: "}"), "',' or '}'")
    }

    mutating func parseHeader() throws -> ([SafeTensorsEntry], [String: String]) {
        var entries: [SafeTensorsEntry] = []
        var metadata: [String: String] = [:]
        try object { parser, key in
            if key == "__metadata__" {
                try parser.object { inner, name in metadata[name] = try inner.string() }
            } else {
                guard !key.isEmpty else { throw parser.fail("a tensor has an empty name") }
                entries.append(try parser.entry(key))
            }
        }
        skipWhitespace()
        guard position == bytes.endIndex else { throw fail("unexpected bytes after the header object") }
        return (entries, metadata)
    }

    private mutating func entry(_ name: String) throws -> SafeTensorsEntry {
        var dtype: String?
        var shape: [Int]?
        var offsets: [Int]?
        try object { parser, key in
            switch key {
            case "dtype": dtype = try parser.string()
            case "shape": shape = try parser.integers()
            case "data_offsets": offsets = try parser.integers()
            default: throw parser.fail("unknown field '\(key)'", tensor: name)
            }
        }
        guard let dtype else { throw fail("no 'dtype'", tensor: name) }
        guard let shape else { throw fail("no 'shape'", tensor: name) }
        guard let offsets, offsets.count == 2 else {
            throw fail("'data_offsets' must be two integers [begin, end]", tensor: name)
        }
        return SafeTensorsEntry(name: name, dtype: dtype, shape: shape, offsets: (offsets[0], offsets[1]))
    }

    /// `[n, …]` of non-negative integers that fit an `Int`.
    private mutating func integers() throws -> [Int] {
        try expect(UInt8(ascii: "["), "'['")
        var values: [Int] = []
        if take(UInt8(ascii: "]")) { return values }
        repeat {
            skipWhitespace()
            let start = position
            var value = 0
            while position < bytes.endIndex, (0x30...0x39).contains(bytes[position]) {
                let (times, o1) = value.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times.addingReportingOverflow(Int(bytes[position] - 0x30))
                guard !o1 && !o2 else { throw fail("an integer is too large") }
                value = sum
                position += 1
            }
            guard position > start else { throw fail("expected a non-negative integer") }
            guard bytes[start] != 0x30 || position - start == 1 else { throw fail("an integer has a leading zero") }
            values.append(value)
            guard values.count <= SafeTensors.maximumRank + 2 else { throw fail("a list is too long") }
        } while take(UInt8(ascii: ","))
        try expect(UInt8(ascii: "]"), "',' or ']'")
        return values
    }

    /// A JSON string: escapes decoded, UTF-8 validated, control characters refused.
    private mutating func string() throws -> String {
        try expect(UInt8(ascii: "\""), "a string")
        var utf8: [UInt8] = []
        while true {
            guard position < bytes.endIndex else { throw fail("unterminated string") }
            let byte = bytes[position]
            position += 1
            switch byte {
            case UInt8(ascii: "\""):
                guard let text = String(validating: utf8, as: UTF8.self) else { throw fail("a string is not valid UTF-8") }
                return text
            case UInt8(ascii: "\\"):
                guard position < bytes.endIndex else { throw fail("unterminated escape") }
                let escape = bytes[position]
                position += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(escape)
                case UInt8(ascii: "b"): utf8.append(0x08)
                case UInt8(ascii: "f"): utf8.append(0x0C)
                case UInt8(ascii: "n"): utf8.append(0x0A)
                case UInt8(ascii: "r"): utf8.append(0x0D)
                case UInt8(ascii: "t"): utf8.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard position + 1 < bytes.endIndex, bytes[position] == UInt8(ascii: "\\"),
                              bytes[position + 1] == UInt8(ascii: "u") else { throw fail("an unpaired surrogate") }
                        position += 2
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw fail("an unpaired surrogate") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let unicode = Unicode.Scalar(scalar) else { throw fail("an unpaired surrogate") }
                    utf8.append(contentsOf: Array(String(Character(unicode)).utf8))
                default:
                    throw fail("an invalid escape")
                }
            default:
                guard byte >= 0x20 else { throw fail("a control character in a string") }
                utf8.append(byte)
            }
        }
    }

    private mutating func hex4() throws -> UInt32 {
        guard position + 4 <= bytes.endIndex else { throw fail("a short \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt32
            switch byte {
            case 0x30...0x39: digit = UInt32(byte - 0x30)
            case 0x41...0x46: digit = UInt32(byte - 0x41 + 10)
            case 0x61...0x66: digit = UInt32(byte - 0x61 + 10)
            default: throw fail("a bad \\u escape")
            }
            value = value << 4 | digit
            position += 1
        }
        return value
    }
}
