import Foundation

extension S3Client {
    // MARK: - Buckets

    /// Creates a bucket (`CreateBucket`), with a location constraint outside `us-east-1`.
    /// - Parameter bucket: The bucket name.
    /// - Throws: ``S3Error`` (for example `BucketAlreadyOwnedByYou`).
    public func createBucket(_ bucket: String) async throws {
        var call = S3Call(operation: "CreateBucket", method: "PUT", bucket: bucket)
        if region != "us-east-1" {
            let xml = #"<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#
                + "<LocationConstraint>\(S3XMLText.escape(region))</LocationConstraint></CreateBucketConfiguration>"
            call.body = Data(xml.utf8)
            call.headers["content-type"] = "application/xml"
        }
        _ = try await perform(call)
    }

    // MARK: - Put

    /// Uploads `body` to `key`: one `PutObject` below ``S3MultipartConfiguration/threshold``,
    /// a parallel multipart upload (aborted on any failure) from it on.
    /// - Parameters:
    ///   - body: The bytes.
    ///   - bucket: The bucket.
    ///   - key: The object key.
    ///   - contentType: The `Content-Type` to store.
    /// - Returns: The verified result.
    /// - Throws: ``S3Error``; `CancellationError` when cancelled (a multipart upload is
    ///   aborted first).
    public func upload(_ body: Data, bucket: String, key: String,
                       contentType: String = "application/octet-stream") async throws -> S3PutResult {
        if body.count >= multipart.threshold {
            return try await multipartUpload(body, bucket: bucket, key: key, contentType: contentType)
        }
        return try await putObject(body, bucket: bucket, key: key, contentType: contentType)
    }

    /// Stores `body` at `key` in one request (`PutObject`). The request carries `Content-MD5`
    /// (S3 refuses the upload with `BadDigest` if the bytes it received differ) and the
    /// returned ETag is checked to equal the MD5 hex of `body`.
    /// - Parameters:
    ///   - body: The bytes (at most 5 GiB).
    ///   - bucket: The bucket.
    ///   - key: The object key.
    ///   - contentType: The `Content-Type` to store.
    /// - Returns: The verified result.
    /// - Throws: ``S3Error``, with ``S3Error/checksumMismatchCode`` when the ETag differs.
    public func putObject(_ body: Data, bucket: String, key: String,
                          contentType: String = "application/octet-stream") async throws -> S3PutResult {
        let digest = Self.md5(body)
        let call = S3Call(operation: "PutObject", method: "PUT", bucket: bucket, key: key,
                          headers: ["content-md5": digest.base64EncodedString(), "content-type": contentType],
                          body: body)
        let response = try await perform(call)
        let etag = try verifyETag(response, expected: Self.hex(digest), call)
        return S3PutResult(etag: etag, versionId: response.headers["x-amz-version-id"], partCount: 1)
    }

    // MARK: - Get

    /// Reads an object, or the bytes `range` of it (`GetObject` with `Range: bytes=a-b`).
    ///
    /// A full read of an object whose ETag is a plain MD5 (single-part, not KMS-encrypted) is
    /// checked against the MD5 of the bytes received. A ranged read checks that the bytes
    /// start at `range.lowerBound` and that no more arrived than asked for (S3 shortens a
    /// range that runs past the end).
    ///
    /// With `maxBytes`, a response body larger than that is refused as soon as it is known
    /// to be: from its `Content-Length`, or while it streams (the transport stops reading and
    /// closes the connection), so no more than `maxBytes` bytes are ever held. The limit
    /// replaces the transport's own for this request, in either direction.
    /// - Parameters:
    ///   - bucket: The bucket.
    ///   - key: The object key.
    ///   - range: The byte offsets to read, inclusive; nil for the whole object.
    ///   - maxBytes: The largest body accepted (≥ 0); nil for the transport's limit.
    /// - Returns: The bytes and metadata.
    /// - Throws: ``S3Error`` (`NoSuchKey`, `InvalidRange`, ``S3Error/checksumMismatchCode``,
    ///   ``S3Error/responseTooLargeCode``…).
    public func getObject(bucket: String, key: String, range: ClosedRange<Int>? = nil,
                          maxBytes: Int? = nil) async throws -> S3ObjectContent {
        if let range {
            precondition(range.lowerBound >= 0 && range.upperBound < Int.max, "S3Client.getObject: range \(range) out of 0..<Int.max")
        }
        precondition((maxBytes ?? 0) >= 0, "S3Client.getObject: maxBytes \(maxBytes ?? 0) < 0")
        var call = S3Call(operation: "GetObject", method: "GET", bucket: bucket, key: key)
        if let range { call.headers["range"] = "bytes=\(range.lowerBound)-\(range.upperBound)" }
        call.maximumResponseBytes = maxBytes
        let response = try await perform(call)
        if let maxBytes, response.body.count > maxBytes {
            // A transport that does not enforce the request's limit still never hands the
            // caller more than it accepts.
            throw S3Error(status: response.status, code: S3Error.responseTooLargeCode,
                          message: "\(call.context): response body of \(response.body.count) bytes is larger than the limit of \(maxBytes) bytes",
                          requestId: response.headers["x-amz-request-id"])
        }
        let etag = Self.normalizedETag(response.headers["etag"] ?? nil)
        guard let range else {
            if let etag, etag.count == 32, etag.allSatisfy(\.isHexDigit), !Self.etagIsOpaque(response),
               Self.hex(Self.md5(response.body)) != etag {
                throw S3Error(status: response.status, code: S3Error.checksumMismatchCode,
                              message: "\(call.context): MD5 of the \(response.body.count) bytes received does not match ETag \(etag)",
                              requestId: response.headers["x-amz-request-id"])
            }
            return S3ObjectContent(body: response.body, etag: etag, objectSize: response.body.count, offset: 0)
        }
        if response.status == 200 {
            // The server ignored the range and sent the whole object: cut it here.
            let whole = Data(response.body)  // indices from 0, whatever the transport returned
            let end = min(range.upperBound + 1, whole.count)
            let slice = range.lowerBound < end ? whole.subdata(in: range.lowerBound..<end) : Data()
            return S3ObjectContent(body: slice, etag: etag, objectSize: whole.count, offset: range.lowerBound)
        }
        let (start, total) = Self.parseContentRange(response.headers["content-range"])
        guard start == range.lowerBound, response.body.count <= range.count else {
            throw S3Error(status: response.status, code: S3Error.malformedResponseCode,
                          message: "\(call.context): asked for bytes \(range.lowerBound)-\(range.upperBound), got "
                              + "\(response.body.count) bytes with Content-Range '\(response.headers["content-range"] ?? "none")'",
                          requestId: response.headers["x-amz-request-id"])
        }
        return S3ObjectContent(body: response.body, etag: etag, objectSize: total, offset: range.lowerBound)
    }

    /// Parses `bytes START-END/TOTAL` (TOTAL may be `*`).
    static func parseContentRange(_ header: String?) -> (start: Int?, total: Int?) {
        guard let header, header.hasPrefix("bytes ") else { return (nil, nil) }
        let spec = header.dropFirst(6)
        let halves = spec.split(separator: "/", maxSplits: 1)
        let start = halves.first.flatMap { $0.split(separator: "-").first }.flatMap { Int($0) }
        let total = halves.count > 1 ? Int(halves[1]) : nil
        return (start, total)
    }

    // MARK: - Copy

    /// Copies an object inside a bucket on the server (`CopyObject`, at most 5 GiB), keeping
    /// its metadata. The source goes in `x-amz-copy-source` as `/bucket/key` with each key
    /// segment percent-encoded, as S3 requires. S3 may answer 200 and still fail (an
    /// `<Error>` body, for example `InternalError` during a long copy); that is thrown (and
    /// retried) like any error.
    /// - Parameters:
    ///   - bucket: The bucket of both objects.
    ///   - sourceKey: The key to copy.
    ///   - destinationKey: The key to write.
    /// - Returns: The new object's ETag (the source's MD5 hex for a plain single-part object).
    /// - Throws: ``S3Error`` (`NoSuchKey` for a missing source,
    ///   ``S3Error/malformedResponseCode`` for a success without an ETag).
    public func copyObject(bucket: String, sourceKey: String, destinationKey: String) async throws -> S3PutResult {
        try Self.validateKey(sourceKey)
        let source = "/" + bucket + "/" + sourceKey.split(separator: "/", omittingEmptySubsequences: false)
            .map { SigV4Signer.percentEncode(String($0)) }.joined(separator: "/")
        let call = S3Call(operation: "CopyObject", method: "PUT", bucket: bucket, key: destinationKey,
                          headers: ["x-amz-copy-source": source])
        let (response, root) = try await performXML(call, expecting: ["CopyObjectResult",
                                                                       // moto 5.2.1 names the root after the operation.
                                                                       "CopyObjectResponse"])
        guard let etag = Self.normalizedETag(root.text("ETag")), !etag.isEmpty else {
            throw S3Error(status: response.status, code: S3Error.malformedResponseCode,
                          message: "\(call.context) from s3://\(bucket)/\(sourceKey): no <ETag> in the result",
                          requestId: response.headers["x-amz-request-id"])
        }
        return S3PutResult(etag: etag, versionId: response.headers["x-amz-version-id"], partCount: 1)
    }

    // MARK: - List

    /// Lists every object under `prefix` (`ListObjectsV2`, following continuation tokens).
    /// - Parameters:
    ///   - bucket: The bucket.
    ///   - prefix: Only keys starting with this (empty for all).
    /// - Returns: The objects in key order.
    /// - Throws: ``S3Error``; ``S3Error/malformedResponseCode`` if S3 repeats a token.
    public func listObjects(bucket: String, prefix: String = "") async throws -> [S3ObjectSummary] {
        var objects: [S3ObjectSummary] = []
        var token: String?
        var seen: Set<String> = []
        repeat {
            let page = try await listObjectsPage(bucket: bucket, prefix: prefix, continuationToken: token)
            objects += page.objects
            token = page.nextContinuationToken
            if let token, !seen.insert(token).inserted {
                throw S3Error(status: 200, code: S3Error.malformedResponseCode,
                              message: "ListObjectsV2 s3://\(bucket)/\(prefix): continuation token repeated")
            }
        } while token != nil
        return objects
    }

    /// Lists one page of objects (`ListObjectsV2`).
    /// - Parameters:
    ///   - bucket: The bucket.
    ///   - prefix: Only keys starting with this.
    ///   - delimiter: Group keys by this (for example `/`) into common prefixes; nil for none.
    ///   - continuationToken: The previous page's ``S3ObjectListPage/nextContinuationToken``.
    ///   - maxKeys: At most this many keys (S3 caps it at 1000).
    /// - Returns: The page.
    /// - Throws: ``S3Error``.
    public func listObjectsPage(bucket: String, prefix: String = "", delimiter: String? = nil,
                                continuationToken: String? = nil, maxKeys: Int = 1000) async throws -> S3ObjectListPage {
        precondition(maxKeys >= 1, "S3Client.listObjectsPage: maxKeys \(maxKeys) < 1")
        var query: [(String, String?)] = [("list-type", "2")]
        if !prefix.isEmpty { query.append(("prefix", prefix)) }
        if let delimiter { query.append(("delimiter", delimiter)) }
        if let continuationToken { query.append(("continuation-token", continuationToken)) }
        query.append(("max-keys", String(maxKeys)))
        let call = S3Call(operation: "ListObjectsV2", method: "GET", bucket: bucket, query: query)
        let root = try await performXML(call, expecting: ["ListBucketResult"]).1
        var objects: [S3ObjectSummary] = []
        for entry in root.children where entry.name == "Contents" {
            guard let key = entry.text("Key"), let size = entry.text("Size").flatMap({ Int($0) }), size >= 0 else {
                throw S3Error(status: 200, code: S3Error.malformedResponseCode,
                              message: "\(call.context): <Contents> without a valid <Key> and <Size>")
            }
            objects.append(S3ObjectSummary(key: key, size: size, etag: Self.normalizedETag(entry.text("ETag")),
                                           lastModified: entry.text("LastModified").flatMap(IMDSDate.parse)))
        }
        let prefixes = root.children.filter { $0.name == "CommonPrefixes" }.compactMap { $0.text("Prefix") }
        let truncated = root.text("IsTruncated")?.lowercased() == "true"
        let next = root.text("NextContinuationToken").flatMap { $0.isEmpty ? nil : $0 }
        if truncated && next == nil {
            throw S3Error(status: 200, code: S3Error.malformedResponseCode,
                          message: "\(call.context): truncated listing without a NextContinuationToken")
        }
        return S3ObjectListPage(objects: objects, commonPrefixes: prefixes, nextContinuationToken: truncated ? next : nil)
    }

    // MARK: - Delete

    /// Deletes one object (`DeleteObject`); deleting a missing key succeeds, as in S3.
    /// - Parameters:
    ///   - bucket: The bucket.
    ///   - key: The object key.
    /// - Throws: ``S3Error``.
    public func deleteObject(bucket: String, key: String) async throws {
        _ = try await perform(S3Call(operation: "DeleteObject", method: "DELETE", bucket: bucket, key: key))
    }

    /// Deletes many objects (`DeleteObjects`, quiet mode, 1000 keys per request, each
    /// request with `Content-MD5`, which S3 requires for it).
    /// - Parameters:
    ///   - keys: The keys (missing keys count as deleted).
    ///   - bucket: The bucket.
    /// - Returns: The keys S3 could not delete, with its reason (empty when all went).
    /// - Throws: ``S3Error`` when a request as a whole fails.
    public func deleteObjects(_ keys: [String], bucket: String) async throws -> [S3DeleteFailure] {
        // Every key is checked before the first batch goes, so a bad key deletes nothing.
        for key in keys { try Self.validateKey(key, inPath: false) }
        var failures: [S3DeleteFailure] = []
        var start = 0
        while start < keys.count {
            let batch = keys[start..<min(start + 1000, keys.count)]
            start += batch.count
            var xml = #"<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#
                + "<Quiet>true</Quiet>"
            for key in batch { xml += "<Object><Key>\(S3XMLText.escape(key))</Key></Object>" }
            xml += "</Delete>"
            let body = Data(xml.utf8)
            let call = S3Call(operation: "DeleteObjects", method: "POST", bucket: bucket, query: [("delete", nil)],
                              headers: ["content-md5": Self.md5(body).base64EncodedString(),
                                        "content-type": "application/xml"],
                              body: body)
            let root = try await performXML(call, expecting: ["DeleteResult"]).1
            for error in root.children where error.name == "Error" {
                failures.append(S3DeleteFailure(key: error.text("Key") ?? "", code: error.text("Code") ?? "",
                                                message: error.text("Message") ?? ""))
            }
        }
        return failures
    }
}
