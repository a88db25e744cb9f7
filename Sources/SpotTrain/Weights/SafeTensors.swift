#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A set of named Float32 tensors in the safetensors format, the weights container that
/// PyTorch, JAX, MLX and Hugging Face read (<https://github.com/huggingface/safetensors>).
///
/// A file is: an 8-byte little-endian unsigned header length `N`; `N` bytes of UTF-8 JSON,
/// `{"<name>": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, …,
/// "__metadata__": {"<key>": "<string>", …}}`, padded with spaces to a multiple of 8; then
/// the data section, every tensor's values as row-major little-endian Float32, `begin` and
/// `end` counted from the start of the data section.
///
/// SpotTrain writes tensors in the order given (a model's canonical parameter order), with
/// contiguous offsets, and keeps its own layouts: images NHWC, convolution kernels
/// `[kh, kw, in, out]`, dense weights `[in, out]`, `Flatten` in NHWC order (see
/// ``layoutDescription``, recorded in the metadata by ``Layer/saveWeights(to:metadata:fileSystem:)``).
///
/// Decoding is strict, for files from anywhere: only `F32`; every name unique and non-empty;
/// offsets in range, matching the shape, without overlap or unused bytes; the header at
/// most ``maximumHeaderBytes``; nothing is allocated from a field before it is checked
/// against the size of the bytes present.
public struct SafeTensors {
    /// The largest header accepted, in bytes (16 MiB).
    public static let maximumHeaderBytes = 16 << 20
    /// The largest tensor rank accepted.
    public static let maximumRank = 32
    /// The `__metadata__` value of `"format"` in files SpotTrain writes.
    public static let formatName = "spottrain"
    /// The `__metadata__` value of `"layout"` in files SpotTrain writes.
    public static let layoutDescription = "NHWC; conv [kh,kw,in,out]; dense [in,out]; flatten NHWC"

    /// The tensors, in file order (data-section order when decoded).
    public var tensors: [NamedTensor]
    /// The `__metadata__` string map (empty when the file has none).
    public var metadata: [String: String]

    /// Creates a set of tensors.
    /// - Parameters:
    ///   - tensors: The tensors; names must be unique and non-empty.
    ///   - metadata: String pairs for `__metadata__`.
    public init(tensors: [NamedTensor], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// The tensor stored under `name`, or `nil`.
    /// - Parameter name: The name.
    /// - Returns: The tensor (not copied).
    public func tensor(named name: String) -> Tensor? {
        tensors.first { $0.name == name }?.tensor
    }

    // MARK: Encoding

    /// The bytes of the safetensors file: header (padded with spaces to a multiple of 8),
    /// then each tensor's values as little-endian Float32, in order.
    ///
    /// Names must be unique and non-empty (a `precondition`: the caller made them).
    /// - Returns: The file's bytes.
    public func encoded() -> [UInt8] {
        var seen = Set<String>()
        for t in tensors {
            precondition(!t.name.isEmpty && t.name != "__metadata__" && seen.insert(t.name).inserted,
                         "SafeTensors: tensor name '\(t.name)' is empty, reserved or used twice")
        }
        var json = "{"
        var offset = 0
        var first = true
        if !metadata.isEmpty {
            json += Self.quoted("__metadata__") + ":{"
            json += metadata.keys.sorted().map { Self.quoted($0) + ":" + Self.quoted(metadata[$0]!) }.joined(separator: ",")
            json += "}"
            first = false
        }
        for t in tensors {
            let end = offset + t.tensor.count * 4
            if !first { json += "," }
            first = false
            json += Self.quoted(t.name) + ":{\"dtype\":\"F32\",\"shape\":["
                + t.tensor.shape.map(String.init).joined(separator: ",")
                + "],\"data_offsets\":[\(offset),\(end)]}"
            offset = end
        }
        json += "}"
        var header = Array(json.utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: header)
        for t in tensors {
            #if _endian(little)
            bytes.append(contentsOf: UnsafeRawBufferPointer(t.tensor.buffer))
            #else
            for v in t.tensor.buffer {
                withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
            }
            #endif
        }
        return bytes
    }

    /// A JSON string literal.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    // MARK: Files

    /// Writes the file durably and atomically (temporary file, fsync, rename, directory
    /// fsync), as checkpoints are written.
    /// - Parameters:
    ///   - path: The file to write.
    ///   - fileSystem: File operations; the real file system unless given.
    /// - Throws: ``WeightsError`` (``WeightsError/Code/io``) naming the file, the
    ///   ``CheckpointError`` as its cause.
    public func write(to path: String, fileSystem: any CheckpointFileSystem = POSIXCheckpointFileSystem()) throws {
        do {
            try CheckpointWriter(fileSystem: fileSystem).write(bytes: encoded(), to: path)
        } catch let error as CheckpointError {
            throw WeightsError(.io, "cannot write the weights file: \(error.message)", path: path, underlying: error)
        }
    }

    /// Reads and decodes a safetensors file (see ``decode(_:path:)``). The file must be a
    /// regular file (a FIFO or device is refused without blocking); the buffer is sized by
    /// `fstat`, never by a field of the file.
    /// - Parameter path: The file.
    /// - Returns: The tensors and metadata.
    /// - Throws: ``WeightsError`` naming the file (and the tensor, when one is at fault).
    public static func read(atPath path: String) throws -> SafeTensors {
        try decode(try readBytes(path), path: path)
    }

    private static func readBytes(_ path: String) throws -> [UInt8] {
        let fd: Int32
        do {
            fd = try POSIXCheckpointFileSystem.openRegularFile(atPath: path)
        } catch let error as CheckpointError {
            throw WeightsError(.io, "cannot open the weights file: \(error.message)", path: path, underlying: error.at(path))
        }
        defer { _ = close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let cause = CheckpointError(.io, "fstat failed", path: path, systemErrorNumber: errno)
            throw WeightsError(.io, "cannot examine the weights file", path: path, underlying: cause)
        }
        let size = Int(info.st_size)
        var bytes = [UInt8](repeating: 0, count: size)
        var got = 0
        try bytes.withUnsafeMutableBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            while got < size {
                let n = pread(fd, base + got, min(size - got, 1 << 30), off_t(got))
                if n < 0 {
                    if errno == EINTR { continue }
                    let cause = CheckpointError(.io, "read failed", path: path, systemErrorNumber: errno)
                    throw WeightsError(.io, "cannot read the weights file", path: path, underlying: cause)
                }
                if n == 0 { break }
                got += n
            }
        }
        if got < size { bytes.removeSubrange(got...) }
        return bytes
    }
}
