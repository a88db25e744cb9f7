/// Reads and verifies checkpoint files.
///
/// Every load first checks the completion footer and the whole-file CRC-32, then the
/// structure (every length against the bytes present), then the metadata CRC-32, and
/// finally each tensor's CRC-32 over its decoded values. Every number in the metadata is
/// range-checked (``CheckpointMetadata/validateRanges(path:)``,
/// ``TrainingState/validate(_:path:)``), and the model signature must agree with the
/// tensor records of the same names. Any failure throws a
/// ``CheckpointError``; nothing is trusted before it is checked, and no allocation is sized
/// from a field before that field is checked against the file's size. Tensors are decoded
/// in parallel (on `Threading.threads` threads).
public struct CheckpointReader: Sendable {
    /// The file operations used to read files.
    public let fileSystem: any CheckpointFileSystem

    /// Creates a reader.
    /// - Parameter fileSystem: File operations; the real file system unless given.
    public init(fileSystem: any CheckpointFileSystem = POSIXCheckpointFileSystem()) {
        self.fileSystem = fileSystem
    }

    /// Reads, verifies and decodes a checkpoint file.
    /// - Parameter path: The file.
    /// - Returns: The checkpoint, with freshly allocated tensors.
    /// - Throws: ``CheckpointError`` naming the file and the problem.
    public func read(atPath path: String) throws -> Checkpoint {
        try CheckpointReader.decode(try readBytes(path), path: path)
    }

    /// Verifies a checkpoint file completely (all CRCs, the structure, the metadata JSON and
    /// every payload's decompression) without keeping its tensors.
    /// - Parameter path: The file.
    /// - Returns: The file's metadata.
    /// - Throws: ``CheckpointError`` naming the file and the problem.
    @discardableResult
    public func verify(atPath path: String) throws -> CheckpointMetadata {
        try CheckpointReader.verify(try readBytes(path), path: path)
    }

    /// Describes a checkpoint file for people: header fields, metadata, and per-tensor
    /// shapes, sizes, compression and CRC status. A whole-file CRC mismatch is reported in
    /// the result rather than thrown (and then no payload is decoded).
    /// - Parameter path: The file.
    /// - Returns: The report.
    /// - Throws: ``CheckpointError`` when the file cannot be read or its structure cannot be
    ///   walked (wrong magic, unsupported version, truncation, lengths out of range).
    public func inspect(atPath path: String) throws -> CheckpointReport {
        try CheckpointReader.inspect(try readBytes(path), path: path)
    }

    private func readBytes(_ path: String) throws -> [UInt8] {
        do {
            return try fileSystem.readFile(atPath: path)
        } catch let error as CheckpointError {
            throw error.at(path)
        }
    }

    // MARK: In memory

    /// Verifies and decodes the bytes of a checkpoint file.
    /// - Parameters:
    ///   - bytes: The whole file.
    ///   - path: The file's name, for errors.
    /// - Returns: The checkpoint.
    /// - Throws: ``CheckpointError``.
    public static func decode(_ bytes: [UInt8], path: String? = nil) throws -> Checkpoint {
        try bytes.withUnsafeBytes { raw in
            let layout = try CheckpointLayout(raw, path: path)
            let metadata = try metadata(of: layout, in: raw, path: path)
            let storages = layout.records.map { TensorStorage(uninitializedCount: $0.elementCount) }
            try decodeAll(layout, raw, path: path, into: storages)
            try checkSignature(metadata, layout, path: path)
            #if _endian(big)
            for storage in storages {
                for i in 0..<storage.count { storage.pointer[i] = Float(bitPattern: UInt32(littleEndian: storage.pointer[i].bitPattern)) }
            }
            #endif
            let tensors = zip(layout.records, storages).map { record, storage in
                NamedTensor(name: record.name, tensor: Tensor(shape: record.shape, storage: storage))
            }
            return Checkpoint(metadata: metadata, tensors: tensors)
        }
    }

    /// Verifies the bytes of a checkpoint file completely without keeping its tensors.
    /// - Parameters:
    ///   - bytes: The whole file.
    ///   - path: The file's name, for errors.
    /// - Returns: The metadata.
    /// - Throws: ``CheckpointError``.
    @discardableResult
    public static func verify(_ bytes: [UInt8], path: String? = nil) throws -> CheckpointMetadata {
        try bytes.withUnsafeBytes { raw in
            let layout = try CheckpointLayout(raw, path: path)
            let metadata = try metadata(of: layout, in: raw, path: path)
            try decodeAll(layout, raw, path: path, into: nil)
            try checkSignature(metadata, layout, path: path)
            return metadata
        }
    }

    /// Describes the bytes of a checkpoint file (see ``inspect(atPath:)``).
    /// - Parameters:
    ///   - bytes: The whole file.
    ///   - path: The file's name, for the report and errors.
    /// - Returns: The report.
    /// - Throws: ``CheckpointError`` when the structure cannot be walked.
    public static func inspect(_ bytes: [UInt8], path: String? = nil) throws -> CheckpointReport {
        try bytes.withUnsafeBytes { raw in
            let layout = try CheckpointLayout(raw, path: path, requireFileChecksum: false)
            var metadata: CheckpointMetadata?
            var metadataProblem: String?
            if layout.fileChecksumValid && layout.metadataChecksumValid {
                do {
                    metadata = try self.metadata(of: layout, in: raw, path: path)
                } catch let error as CheckpointError {
                    metadataProblem = error.message
                }
            } else {
                metadataProblem = "not decoded: " + (layout.fileChecksumValid ? "metadata" : "file") + " CRC-32 mismatch"
            }
            var scratch: [UInt8] = []
            var buffer: [UInt8] = []
            let tensors = layout.records.map { record -> CheckpointReport.Tensor in
                var status = CheckpointReport.ChecksumStatus.notChecked
                var problem: String?
                if layout.fileChecksumValid {
                    if buffer.count < record.uncompressedLength {
                        buffer = [UInt8](repeating: 0, count: record.uncompressedLength)
                    }
                    do {
                        try buffer.withUnsafeMutableBytes {
                            try CheckpointLayout.decodePayload(
                                record, from: raw, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<record.uncompressedLength]),
                                scratch: &scratch, path: path)
                        }
                        status = .valid
                    } catch let error as CheckpointError {
                        status = error.code == .checksumMismatch ? .mismatch : .undecodable
                        problem = error.message
                    } catch {
                        status = .undecodable
                        problem = "\(error)"
                    }
                }
                return CheckpointReport.Tensor(
                    name: record.name, dataType: record.dataType, shape: record.shape,
                    filter: record.filter, compression: record.compression,
                    uncompressedLength: record.uncompressedLength, storedLength: record.storedLength,
                    checksum: record.checksum, checksumStatus: status, problem: problem)
            }
            return CheckpointReport(
                path: path, fileSize: layout.fileSize, majorVersion: layout.majorVersion,
                minorVersion: layout.minorVersion, headerLength: layout.headerLength,
                metadataLength: layout.metadataLength, metadataChecksum: layout.metadataChecksum,
                metadataChecksumValid: layout.metadataChecksumValid, fileChecksum: layout.fileChecksum,
                fileChecksumValid: layout.fileChecksumValid, metadata: metadata,
                metadataProblem: metadataProblem, tensors: tensors)
        }
    }

    // MARK: Internals

    private static func metadata(of layout: CheckpointLayout, in raw: UnsafeRawBufferPointer,
                                 path: String?) throws -> CheckpointMetadata {
        let json = Array(raw[layout.metadataOffset..<(layout.metadataOffset + layout.metadataLength)])
        let metadata = try CheckpointMetadata.decode(json: json, path: path)
        try TrainingState.validate(metadata, path: path)
        return metadata
    }

    /// A signature that contradicts the file's own tensor of the same name is corrupt
    /// content, not another model (a signature entry without a tensor is allowed). Checked
    /// after the payloads, so that damage to a record is reported as such first.
    private static func checkSignature(_ metadata: CheckpointMetadata, _ layout: CheckpointLayout,
                                       path: String?) throws {
        var records: [String: CheckpointLayout.Record] = [:]
        for record in layout.records { records[record.name] = record }
        for parameter in metadata.modelSignature.parameters {
            if let record = records[parameter.name], record.shape != parameter.shape || record.dataType != parameter.dataType {
                throw CheckpointError(.invalidMetadata,
                                      "model signature parameter '\(parameter.name)' is \(parameter.dataType.name) \(parameter.shape), "
                                      + "but its tensor record is \(record.dataType.name) \(record.shape)", path: path)
            }
        }
    }

    /// Decodes every record (balanced over threads) into `storages[i]`, or, when
    /// `storages` is nil, into a per-thread buffer that is discarded (verification), and
    /// throws the first failure in record order.
    private static func decodeAll(_ layout: CheckpointLayout, _ raw: UnsafeRawBufferPointer, path: String?,
                                  into storages: [TensorStorage]?) throws {
        let records = layout.records
        let workers = balancedWorkerCount(records.count)
        var scratch = [[UInt8]](repeating: [], count: workers)
        var output = [[UInt8]](repeating: [], count: workers)
        var errors = [CheckpointError?](repeating: nil, count: records.count)
        scratch.withUnsafeMutableBufferPointer { scratch in
            output.withUnsafeMutableBufferPointer { output in
                errors.withUnsafeMutableBufferPointer { failures in
                    forEachBalanced(costs: records.map(\.uncompressedLength)) { i, w in
                        let record = records[i]
                        do {
                            if let storages {
                                let target = UnsafeMutableRawBufferPointer(start: storages[i].pointer,
                                                                           count: record.uncompressedLength)
                                try CheckpointLayout.decodePayload(record, from: raw, into: target,
                                                                   scratch: &scratch[w], path: path)
                            } else {
                                if output[w].count < record.uncompressedLength {
                                    output[w] = [UInt8](repeating: 0, count: record.uncompressedLength)
                                }
                                try output[w].withUnsafeMutableBytes { buffer in
                                    try CheckpointLayout.decodePayload(
                                        record, from: raw,
                                        into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<record.uncompressedLength]),
                                        scratch: &scratch[w], path: path)
                                }
                            }
                        } catch {
                            failures[i] = error as? CheckpointError
                                ?? CheckpointError(.decompressionFailed, "tensor '\(record.name)': \(error)", path: path)
                        }
                    }
                }
            }
        }
        if let first = errors.first(where: { $0 != nil }), let error = first { throw error }
    }
}
