#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Encodes checkpoints and writes them durably and atomically.
///
/// ``write(_:to:)`` writes to a temporary file in the destination's directory (named
/// `.<final name>.tmp-<pid>-<random>`, which readers ignore), fsyncs it, renames it over the
/// final name and fsyncs the directory. A final name therefore never holds a partial file:
/// after a crash at any instant it holds either the previous complete file or the new one.
///
/// Payloads are compressed in parallel across tensors (on `Threading.threads` threads);
/// the bytes written do not depend on the thread count.
public struct CheckpointWriter: Sendable {
    /// How tensor payloads are stored.
    public struct Options: Sendable, Equatable {
        /// zlib level 0...9; 0 stores payloads uncompressed (and ignores ``byteShuffle``).
        public var compressionLevel: Int32
        /// Whether to byte-shuffle float32 payloads before deflate.
        public var byteShuffle: Bool

        /// Creates options.
        /// - Parameters:
        ///   - compressionLevel: zlib level 0 (none) ... 9 (smallest).
        ///   - byteShuffle: Shuffle bytes before deflate.
        public init(compressionLevel: Int32, byteShuffle: Bool) {
            precondition((0...9).contains(compressionLevel),
                         "CheckpointWriter.Options: compression level \(compressionLevel) is not in 0...9")
            self.compressionLevel = compressionLevel
            self.byteShuffle = byteShuffle
        }

        /// No compression: the fastest save (see the "Cost" section of
        /// `Docs/CheckpointFormat.md`); the default.
        public static let uncompressed = Options(compressionLevel: 0, byteShuffle: false)
        /// zlib level 1 after byte shuffle: smaller files at a moderate cost.
        public static let fast = Options(compressionLevel: 1, byteShuffle: true)
        /// zlib level 6 after byte shuffle.
        public static let small = Options(compressionLevel: 6, byteShuffle: true)
        /// The default, ``uncompressed``.
        public static let `default` = uncompressed
    }

    /// How payloads are stored.
    public var options: Options
    /// The file operations used by ``write(_:to:)``.
    public let fileSystem: any CheckpointFileSystem

    /// Creates a writer.
    /// - Parameters:
    ///   - options: Payload storage; ``Options/default`` (uncompressed) unless given.
    ///   - fileSystem: File operations; inject a failing one to test error paths.
    public init(options: Options = .default, fileSystem: any CheckpointFileSystem = POSIXCheckpointFileSystem()) {
        self.options = options
        self.fileSystem = fileSystem
    }

    // MARK: Encoding

    /// Encodes a checkpoint into the bytes of a checkpoint file.
    /// - Parameter checkpoint: The checkpoint; tensor names must be unique, non-empty and
    ///   at most 65,535 UTF-8 bytes, ranks at most 32.
    /// - Returns: The complete file.
    /// - Throws: ``CheckpointError`` if compression fails.
    public func encode(_ checkpoint: Checkpoint) throws -> [UInt8] {
        var output: [UInt8] = []
        try emit(checkpoint) { piece in output.append(contentsOf: piece) }
        return output
    }

    /// Writes a checkpoint durably and atomically to `path`.
    ///
    /// Steps: create `.<name>.tmp-<pid>-<random>` next to `path`, write the file, fsync it,
    /// close it, rename it to `path` (replacing any file there), fsync the directory. If any
    /// step before the rename fails, the temporary file is removed, existing files are
    /// untouched, and the error is thrown. If only the final directory fsync fails, the new
    /// file is complete at `path` but its rename may not survive a power loss; the error is
    /// thrown too, so the caller treats the save as failed (and does not prune).
    /// - Parameters:
    ///   - checkpoint: The checkpoint (see ``encode(_:)``).
    ///   - path: The final file name.
    /// - Throws: ``CheckpointError`` (code ``CheckpointError/Code/io`` for system failures)
    ///   naming the file.
    public func write(_ checkpoint: Checkpoint, to path: String) throws {
        try writeAtomically(to: path) { sink in try emit(checkpoint, sink) }
    }

    /// Writes the bytes of a complete checkpoint file (for example one downloaded from a
    /// ``CheckpointStore`` and verified) durably and atomically to `path`, exactly as
    /// ``write(_:to:)`` writes an encoded checkpoint.
    /// - Parameters:
    ///   - bytes: The file's bytes.
    ///   - path: The final file name.
    /// - Throws: ``CheckpointError`` naming the file.
    public func write(bytes: [UInt8], to path: String) throws {
        try writeAtomically(to: path) { sink in try bytes.withUnsafeBytes { try sink($0) } }
    }

    /// Temp file, write what `produce` hands its sink (buffered), fsync, close, rename,
    /// fsync the directory; the temporary file is removed on any failure before the rename.
    private func writeAtomically(to path: String,
                                 _ produce: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        let (directory, name) = CheckpointWriter.split(path)
        let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let temporary = directory + "/." + name + ".tmp-\(getpid())-" + suffix
        let fd: Int32
        do {
            fd = try fileSystem.createFile(atPath: temporary)
        } catch let error as CheckpointError {
            throw error.at(temporary)
        }
        var open = true
        do {
            let fs = fileSystem
            var pending: [UInt8] = []
            pending.reserveCapacity(1 << 16)
            try produce { piece in
                if pending.count + piece.count <= 1 << 16 {
                    pending.append(contentsOf: piece)
                } else {
                    if !pending.isEmpty {
                        try pending.withUnsafeBytes { try fs.write(fd, $0) }
                        pending.removeAll(keepingCapacity: true)
                    }
                    if piece.count <= 1 << 16 { pending.append(contentsOf: piece) } else { try fs.write(fd, piece) }
                }
            }
            if !pending.isEmpty { try pending.withUnsafeBytes { try fs.write(fd, $0) } }
            try fileSystem.synchronize(fd)
            open = false
            try fileSystem.close(fd)
            try fileSystem.rename(temporary, to: path)
        } catch {
            if open { try? fileSystem.close(fd) }
            try? fileSystem.removeFile(atPath: temporary)
            if let error = error as? CheckpointError { throw error.at(temporary) }
            throw CheckpointError(.io, "writing the checkpoint failed: \(error)", path: temporary)
        }
        do {
            try fileSystem.synchronizeDirectory(atPath: directory)
        } catch let error as CheckpointError {
            throw error.at(directory)
        }
    }

    /// Splits a path into its directory ("." if none) and last component.
    static func split(_ path: String) -> (directory: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let directory = String(path[..<slash])
        return (directory.isEmpty ? "/" : directory, String(path[path.index(after: slash)...]))
    }

    // MARK: Layout

    private enum Payload {
        /// The tensor's own little-endian bytes.
        case raw
        /// Filtered and/or compressed bytes, with their CRC-32.
        case encoded([UInt8], crc: UInt32)
    }

    private struct EncodedRecord {
        var header: [UInt8] = []
        var payload: Payload = .raw
        var rawCRC: UInt32 = 0
    }

    /// Produces the file in order, handing each piece to `sink`.
    private func emit(_ checkpoint: Checkpoint, _ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        CheckpointWriter.validate(checkpoint)
        let metadata = checkpoint.metadata.jsonBytes()
        let records = try encodeRecords(checkpoint.tensors)

        var header: [UInt8] = CheckpointFormat.magic
        CheckpointBytes.append(CheckpointFormat.majorVersion, to: &header)
        CheckpointBytes.append(CheckpointFormat.minorVersion, to: &header)
        CheckpointBytes.append(UInt32(CheckpointFormat.headerSize), to: &header)
        CheckpointBytes.append(UInt64(metadata.count), to: &header)
        CheckpointBytes.append(Zlib.crc32(metadata), to: &header)
        CheckpointBytes.append(UInt32(records.count), to: &header)

        var crc: UInt32 = 0
        var offset = 0
        func put(_ bytes: UnsafeRawBufferPointer, crcOfBytes: UInt32? = nil) throws {
            crc = crcOfBytes.map { CheckpointBytes.combine(crc, $0, secondLength: bytes.count) }
                ?? Zlib.crc32(bytes, initial: crc)
            offset += bytes.count
            try sink(bytes)
        }
        try header.withUnsafeBytes { try put($0) }
        try metadata.withUnsafeBytes { try put($0) }
        for (record, named) in zip(records, checkpoint.tensors) {
            try record.header.withUnsafeBytes { try put($0) }
            switch record.payload {
            case .raw:
                try CheckpointWriter.withLittleEndianBytes(named.tensor) { try put($0, crcOfBytes: record.rawCRC) }
            case .encoded(let bytes, let payloadCRC):
                try bytes.withUnsafeBytes { try put($0, crcOfBytes: payloadCRC) }
            }
        }
        var footer: [UInt8] = []
        CheckpointBytes.append(UInt64(offset), to: &footer)
        CheckpointBytes.append(UInt32(records.count), to: &footer)
        let fileCRC = Zlib.crc32(footer, initial: crc)
        CheckpointBytes.append(fileCRC, to: &footer)
        footer += CheckpointFormat.endMarker
        try footer.withUnsafeBytes { try sink($0) }
    }

    private static func validate(_ checkpoint: Checkpoint) {
        precondition(checkpoint.tensors.count <= Int(UInt32.max),
                     "CheckpointWriter: \(checkpoint.tensors.count) tensors exceed the format's limit")
        var names = Set<String>()
        for t in checkpoint.tensors {
            let length = t.name.utf8.count
            precondition(length >= 1 && length <= CheckpointFormat.maximumNameLength,
                         "CheckpointWriter: tensor name '\(t.name.prefix(80))' has \(length) UTF-8 bytes (must be 1...\(CheckpointFormat.maximumNameLength))")
            precondition(t.tensor.rank <= CheckpointFormat.maximumRank,
                         "CheckpointWriter: tensor '\(t.name)' has shape \(t.tensor.shape), rank above \(CheckpointFormat.maximumRank)")
            precondition(names.insert(t.name).inserted, "CheckpointWriter: tensor name '\(t.name)' appears twice")
        }
    }

    /// Computes CRCs and compresses payloads, in parallel over tensors.
    private func encodeRecords(_ tensors: [NamedTensor]) throws -> [EncodedRecord] {
        let level = options.compressionLevel
        let shuffle = options.byteShuffle
        var results = [EncodedRecord](repeating: EncodedRecord(), count: tensors.count)
        var errors = [CompressionError?](repeating: nil, count: tensors.count)
        results.withUnsafeMutableBufferPointer { out in
            errors.withUnsafeMutableBufferPointer { failures in
                forEachBalanced(costs: tensors.map { $0.tensor.count }) { i, _ in
                    do {
                        out[i] = try CheckpointWriter.encodeRecord(tensors[i], level: level, shuffle: shuffle)
                    } catch {
                        failures[i] = error as? CompressionError ?? CompressionError("\(error)")
                    }
                }
            }
        }
        if let index = errors.firstIndex(where: { $0 != nil }), let error = errors[index] {
            throw CheckpointError(.io, "compressing tensor '\(tensors[index].name)' failed: \(error)")
        }
        return results
    }

    private static func encodeRecord(_ named: NamedTensor, level: Int32, shuffle: Bool) throws -> EncodedRecord {
        let tensor = named.tensor
        let dataType = CheckpointDataType.float32
        let length = tensor.count * dataType.byteCount
        var record = EncodedRecord()
        var filter = CheckpointFilter.none
        var compression = CheckpointCompression.none
        try withLittleEndianBytes(tensor) { raw in
            record.rawCRC = Zlib.crc32(raw)
            guard level > 0, length > 0, length <= CheckpointFormat.maximumZlibLength else { return }
            var compressed: [UInt8]
            if shuffle {
                var shuffled = [UInt8](repeating: 0, count: length)
                shuffled.withUnsafeMutableBytes { ByteShuffle.shuffle(raw, into: $0, elementSize: dataType.byteCount) }
                compressed = try shuffled.withUnsafeBytes { try Zlib.compress($0, level: level) }
            } else {
                compressed = try Zlib.compress(raw, level: level)
            }
            // Keep the compressed form only if it is smaller.
            if compressed.count < length {
                filter = shuffle ? .byteShuffle : .none
                compression = .zlib
                let crc = Zlib.crc32(compressed)
                record.payload = .encoded(compressed, crc: crc)
            }
        }
        let storedLength: Int
        switch record.payload {
        case .raw: storedLength = length
        case .encoded(let bytes, _): storedLength = bytes.count
        }
        let nameBytes = Array(named.name.utf8)
        var h: [UInt8] = []
        h.reserveCapacity(CheckpointFormat.recordFixedSize + 8 * tensor.rank + nameBytes.count)
        CheckpointBytes.append(UInt32(CheckpointFormat.recordFixedSize + 8 * tensor.rank + nameBytes.count), to: &h)
        h.append(dataType.rawValue)
        h.append(filter.rawValue)
        h.append(compression.rawValue)
        h.append(UInt8(tensor.rank))
        CheckpointBytes.append(UInt32(nameBytes.count), to: &h)
        CheckpointBytes.append(record.rawCRC, to: &h)
        CheckpointBytes.append(UInt64(length), to: &h)
        CheckpointBytes.append(UInt64(storedLength), to: &h)
        for d in tensor.shape { CheckpointBytes.append(UInt64(d), to: &h) }
        h += nameBytes
        record.header = h
        return record
    }

    /// Calls `body` with the tensor's elements as little-endian bytes (no copy on
    /// little-endian hosts).
    static func withLittleEndianBytes<R>(_ tensor: Tensor, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        #if _endian(little)
        return try body(UnsafeRawBufferPointer(start: tensor.pointer, count: tensor.count * 4))
        #else
        var swapped = [UInt32](repeating: 0, count: tensor.count)
        for i in 0..<tensor.count { swapped[i] = tensor.pointer[i].bitPattern.littleEndian }
        return try swapped.withUnsafeBytes { try body($0) }
        #endif
    }
}
