import Foundation

/// What S3 reported for a stored object (an upload's result).
public struct S3PutResult: Sendable, Equatable {
    /// The object's ETag without quotes: the MD5 hex of the body for a single-part upload,
    /// `<md5 of the part MD5s>-<part count>` for a multipart one.
    public var etag: String
    /// The version id, when the bucket is versioned.
    public var versionId: String?
    /// The number of parts (1 for a single `PutObject`).
    public var partCount: Int

    /// Creates a result.
    /// - Parameters:
    ///   - etag: The ETag without quotes.
    ///   - versionId: The version id, if any.
    ///   - partCount: The number of parts.
    public init(etag: String, versionId: String? = nil, partCount: Int = 1) {
        self.etag = etag
        self.versionId = versionId
        self.partCount = partCount
    }
}

/// An object's bytes (or a range of them) and its metadata, from `GetObject`.
public struct S3ObjectContent: Sendable, Equatable {
    /// The bytes received.
    public var body: Data
    /// The ETag without quotes.
    public var etag: String?
    /// The object's total size, from `Content-Range` for a ranged read, else the body size.
    public var objectSize: Int?
    /// The first byte offset of ``body`` within the object (0 for a full read).
    public var offset: Int

    /// Creates a value.
    /// - Parameters:
    ///   - body: The bytes.
    ///   - etag: The ETag without quotes.
    ///   - objectSize: The whole object's size, if known.
    ///   - offset: The offset of `body` in the object.
    public init(body: Data, etag: String?, objectSize: Int?, offset: Int) {
        self.body = body
        self.etag = etag
        self.objectSize = objectSize
        self.offset = offset
    }
}

/// One entry of a `ListObjectsV2` result.
public struct S3ObjectSummary: Sendable, Equatable {
    /// The key.
    public var key: String
    /// The size in bytes.
    public var size: Int
    /// The ETag without quotes.
    public var etag: String?
    /// The last modification time.
    public var lastModified: Date?

    /// Creates a summary.
    /// - Parameters:
    ///   - key: The key.
    ///   - size: The size in bytes.
    ///   - etag: The ETag without quotes.
    ///   - lastModified: The modification time.
    public init(key: String, size: Int, etag: String?, lastModified: Date?) {
        self.key = key
        self.size = size
        self.etag = etag
        self.lastModified = lastModified
    }
}

/// One page of a `ListObjectsV2` result.
public struct S3ObjectListPage: Sendable, Equatable {
    /// The objects on this page.
    public var objects: [S3ObjectSummary]
    /// The common prefixes (when a delimiter was given).
    public var commonPrefixes: [String]
    /// The token for the next page; nil on the last page.
    public var nextContinuationToken: String?

    /// Creates a page.
    /// - Parameters:
    ///   - objects: The objects.
    ///   - commonPrefixes: The common prefixes.
    ///   - nextContinuationToken: The next page's token, or nil.
    public init(objects: [S3ObjectSummary], commonPrefixes: [String], nextContinuationToken: String?) {
        self.objects = objects
        self.commonPrefixes = commonPrefixes
        self.nextContinuationToken = nextContinuationToken
    }
}

/// A key `DeleteObjects` could not delete.
public struct S3DeleteFailure: Sendable, Equatable {
    /// The key.
    public var key: String
    /// The S3 error code, for example `AccessDenied`.
    public var code: String
    /// The message.
    public var message: String

    /// Creates a failure.
    /// - Parameters:
    ///   - key: The key.
    ///   - code: The error code.
    ///   - message: The message.
    public init(key: String, code: String, message: String) {
        self.key = key
        self.code = code
        self.message = message
    }
}

/// A multipart upload that was started and neither completed nor aborted.
public struct S3MultipartUpload: Sendable, Equatable {
    /// The key the upload writes.
    public var key: String
    /// The upload id.
    public var uploadId: String
    /// When it was started.
    public var initiated: Date?

    /// Creates a value.
    /// - Parameters:
    ///   - key: The key.
    ///   - uploadId: The upload id.
    ///   - initiated: The start time.
    public init(key: String, uploadId: String, initiated: Date?) {
        self.key = key
        self.uploadId = uploadId
        self.initiated = initiated
    }
}

/// A part uploaded to a multipart upload.
public struct S3CompletedPart: Sendable, Equatable {
    /// The part number (1-based).
    public var partNumber: Int
    /// The part's ETag without quotes (the MD5 hex of its bytes).
    public var etag: String

    /// Creates a value.
    /// - Parameters:
    ///   - partNumber: The part number.
    ///   - etag: The ETag without quotes.
    public init(partNumber: Int, etag: String) {
        self.partNumber = partNumber
        self.etag = etag
    }
}
