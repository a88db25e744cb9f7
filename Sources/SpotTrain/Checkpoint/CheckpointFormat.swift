/// Constants of the SpotTrain checkpoint file format (see `Docs/CheckpointFormat.md`).
///
/// All integers are little-endian. A file is:
/// ```
/// header (32 bytes in 1.x; headerLength bytes)  magic, version, lengths, metadata CRC, record count
/// metadata (metadataLength bytes)               UTF-8 JSON, see CheckpointMetadata
/// record × recordCount                          fixed fields, dims, name, payload
/// footer (24 bytes)                             footer offset, record count, file CRC-32, "CKPTDONE"
/// ```
public enum CheckpointFormat {
    /// The eight bytes every checkpoint starts with: ASCII `SPOTCKPT`.
    public static let magic: [UInt8] = Array("SPOTCKPT".utf8)
    /// The eight bytes every complete checkpoint ends with: ASCII `CKPTDONE`.
    public static let endMarker: [UInt8] = Array("CKPTDONE".utf8)
    /// The major version this library writes and the newest it reads. A file with a newer
    /// major version is rejected.
    public static let majorVersion: UInt16 = 1
    /// The minor version this library writes. Files with a newer minor version of the same
    /// major are read; fields this version does not know are ignored.
    /// 1.1 keeps the training state in one `training_state` object; 1.0 metadata is still read.
    public static let minorVersion: UInt16 = 1
    /// The size of the fixed header in versions 1.0 and 1.1.
    public static let headerSize = 32
    /// The size of the fixed part of a record header (before the dimensions and the name).
    public static let recordFixedSize = 32
    /// The size of the footer.
    public static let footerSize = 24
    /// The largest rank a record may declare.
    public static let maximumRank = 32
    /// The longest tensor name, in UTF-8 bytes.
    public static let maximumNameLength = 65_535
    /// The largest payload (compressed or uncompressed) of a zlib-compressed record.
    public static let maximumZlibLength = Int(UInt32.max)
    /// The largest ratio of uncompressed to stored length that deflate can produce
    /// (1032:1); readers reject records that claim more, which bounds every allocation by
    /// the file size.
    public static let maximumDeflateRatio = 1032
    /// The file-name extension of checkpoint files.
    public static let fileExtension = "spt"
}

/// The element type of a stored tensor.
public enum CheckpointDataType: UInt8, Sendable, CaseIterable, Codable {
    /// IEEE 754 binary32, little-endian (4 bytes per element).
    case float32 = 1

    /// The size of one element in bytes.
    public var byteCount: Int {
        switch self {
        case .float32: return 4
        }
    }

    /// The name used in metadata JSON (`"float32"`).
    public var name: String {
        switch self {
        case .float32: return "float32"
        }
    }
}

/// A reversible transformation applied to a tensor's bytes before compression.
public enum CheckpointFilter: UInt8, Sendable, CaseIterable {
    /// The bytes are stored as they are.
    case none = 0
    /// Byte shuffle (as in HDF5 and Blosc): byte 0 of every element, then byte 1 of every
    /// element, and so on. Groups the slowly varying sign/exponent bytes together.
    case byteShuffle = 1
}

/// How a record's (filtered) bytes are stored.
public enum CheckpointCompression: UInt8, Sendable, CaseIterable {
    /// Stored as they are; the stored length equals the uncompressed length.
    case none = 0
    /// A zlib stream (RFC 1950: 2-byte header, deflate data, Adler-32).
    case zlib = 1
}
