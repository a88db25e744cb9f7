/// A description of one checkpoint file, for `spottrain checkpoint inspect`.
///
/// Produced by ``CheckpointReader/inspect(atPath:)``. When the whole-file CRC-32 fails,
/// ``metadata`` is nil and every tensor's ``Tensor/checksumStatus`` is
/// ``ChecksumStatus/notChecked``: nothing in a corrupt file is decoded.
public struct CheckpointReport: Sendable {
    /// The outcome of checking one tensor's CRC-32.
    public enum ChecksumStatus: String, Sendable {
        /// The decoded values match the record's CRC-32.
        case valid
        /// The decoded values do not match the record's CRC-32.
        case mismatch
        /// The payload could not be decompressed to the declared size.
        case undecodable
        /// Not checked because the whole-file CRC-32 failed.
        case notChecked = "not checked"
    }

    /// One tensor record.
    public struct Tensor: Sendable {
        /// The tensor's name.
        public var name: String
        /// The element type.
        public var dataType: CheckpointDataType
        /// The shape.
        public var shape: [Int]
        /// The filter applied before compression.
        public var filter: CheckpointFilter
        /// The compression.
        public var compression: CheckpointCompression
        /// The size of the values in bytes.
        public var uncompressedLength: Int
        /// The size of the stored payload in bytes.
        public var storedLength: Int
        /// The CRC-32 the record declares (of the uncompressed values).
        public var checksum: UInt32
        /// Whether the CRC-32 matched.
        public var checksumStatus: ChecksumStatus
        /// Why the payload did not decode or match, if it did not.
        public var problem: String?

        /// `uncompressedLength / storedLength` (1 for empty tensors).
        public var compressionRatio: Double {
            storedLength == 0 ? 1 : Double(uncompressedLength) / Double(storedLength)
        }
    }

    /// The file's path, if known.
    public var path: String?
    /// The file's size in bytes.
    public var fileSize: Int
    /// The format's major version.
    public var majorVersion: UInt16
    /// The format's minor version.
    public var minorVersion: UInt16
    /// The header length in bytes.
    public var headerLength: Int
    /// The metadata JSON length in bytes.
    public var metadataLength: Int
    /// The metadata CRC-32 the header declares.
    public var metadataChecksum: UInt32
    /// Whether the metadata CRC-32 matched.
    public var metadataChecksumValid: Bool
    /// The whole-file CRC-32 the footer declares.
    public var fileChecksum: UInt32
    /// Whether the whole-file CRC-32 matched.
    public var fileChecksumValid: Bool
    /// The decoded metadata, when its checksums matched and it parsed.
    public var metadata: CheckpointMetadata?
    /// Why ``metadata`` is nil, if it is.
    public var metadataProblem: String?
    /// The tensor records in file order.
    public var tensors: [Tensor]

    /// Whether every check passed: file and metadata CRCs, metadata JSON, every tensor.
    public var isValid: Bool {
        fileChecksumValid && metadataChecksumValid && metadata != nil
            && tensors.allSatisfy { $0.checksumStatus == .valid }
    }

    /// The total of the tensors' uncompressed sizes.
    public var totalUncompressedLength: Int { tensors.reduce(0) { $0 + $1.uncompressedLength } }

    /// The total of the tensors' stored sizes.
    public var totalStoredLength: Int { tensors.reduce(0) { $0 + $1.storedLength } }

    /// A multi-line, human-readable rendering: header, metadata summary, one line per tensor.
    public var text: String {
        var lines: [String] = []
        lines.append("file: \(path ?? "(memory)") (\(fileSize) bytes)")
        lines.append("format: \(majorVersion).\(minorVersion), header \(headerLength) bytes, metadata \(metadataLength) bytes")
        lines.append("file CRC-32: \(hex32(fileChecksum)) \(fileChecksumValid ? "ok" : "MISMATCH")")
        lines.append("metadata CRC-32: \(hex32(metadataChecksum)) \(metadataChecksumValid ? "ok" : "MISMATCH")")
        if let m = metadata {
            lines.append("library \(m.libraryVersion), created \(m.createdUnixMilliseconds) ms since 1970")
            if let state = m.trainingState {
                let p = state.progress
                lines.append("epoch \(p.epoch), step in epoch \(p.stepInEpoch), global step \(m.globalStep)")
                lines.append("batch size \(state.batchSize), training examples \(state.trainingCount), "
                             + "rng state \(state.rngState), shuffle seed \(state.seed)")
                let callbacks = TrainingState.CallbackState(p.best)
                for entry in callbacks.modelCheckpoint { lines.append("best \(entry.monitor) = \(entry.best) (ModelCheckpoint)") }
                for entry in callbacks.earlyStopping {
                    lines.append("early stopping on \(entry.monitor): best \(entry.best.map { "\($0)" } ?? "none"), "
                                 + "wait \(entry.wait.map { "\($0)" } ?? "0")")
                }
                let o = state.optimizer
                let hp = o.hyperparameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
                lines.append("optimizer \(o.kind), step \(o.step)" + (hp.isEmpty ? "" : ", \(hp)"))
                lines.append("metrics history: \(p.history.count) epochs; model parameters: \(m.modelSignature.parameters.count)")
            } else {
                lines.append("global step \(m.globalStep), no training state; model parameters: \(m.modelSignature.parameters.count)")
            }
        } else if let problem = metadataProblem {
            lines.append("metadata: \(problem)")
        }
        lines.append("tensors: \(tensors.count), \(totalUncompressedLength) bytes of values, \(totalStoredLength) stored")
        for t in tensors {
            let ratio = (t.compressionRatio * 100).rounded() / 100
            var line = "  \(t.name) \(t.dataType.name)\(t.shape) \(t.uncompressedLength) -> \(t.storedLength) bytes"
            line += " (x\(ratio), \(t.compression == .zlib ? "zlib" : "none")\(t.filter == .byteShuffle ? "+shuffle" : ""))"
            line += " crc \(hex32(t.checksum)) \(t.checksumStatus.rawValue)"
            if let problem = t.problem { line += ": \(problem)" }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}
