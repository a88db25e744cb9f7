import Foundation

extension S3Client {
    /// Uploads `body` in parts, several at once, and completes the upload; on any failure
    /// (a part, the completion, a checksum, cancellation) it aborts the upload so that no
    /// parts are left behind, then rethrows.
    ///
    /// Each part carries `Content-MD5` and its ETag is checked to equal the part's MD5 hex;
    /// the final ETag is checked to be S3's `MD5(MD5(part 1) ‖ … ‖ MD5(part n))-n`.
    /// - Parameters:
    ///   - body: The bytes (at least one byte).
    ///   - bucket: The bucket.
    ///   - key: The object key.
    ///   - contentType: The `Content-Type` to store.
    /// - Returns: The verified result.
    /// - Throws: ``S3Error`` (the first failure); `CancellationError` when cancelled.
    public func multipartUpload(_ body: Data, bucket: String, key: String,
                                contentType: String = "application/octet-stream") async throws -> S3PutResult {
        let partSize = multipart.effectivePartSize(for: body.count)
        let partCount = max(1, (body.count + partSize - 1) / partSize)
        let uploadId = try await createMultipartUpload(bucket: bucket, key: key, contentType: contentType)
        do {
            let base = body.startIndex
            let parts = try await withThrowingTaskGroup(of: (S3CompletedPart, Data).self) { group in
                var results: [(S3CompletedPart, Data)] = []
                results.reserveCapacity(partCount)
                var next = 1
                func addPart(_ number: Int) {
                    let lower = base + (number - 1) * partSize
                    let upper = min(lower + partSize, body.endIndex)
                    let bytes = body.subdata(in: lower..<upper)
                    group.addTask {
                        let digest = Self.md5(bytes)
                        let part = try await uploadPart(bytes, md5: digest, bucket: bucket, key: key,
                                                        uploadId: uploadId, partNumber: number)
                        return (part, digest)
                    }
                }
                while next <= min(partCount, multipart.concurrency) { addPart(next); next += 1 }
                while let finished = try await group.next() {
                    results.append(finished)
                    if next <= partCount { addPart(next); next += 1 }
                }
                return results.sorted { $0.0.partNumber < $1.0.partNumber }
            }
            try Task.checkCancellation()
            let result = try await completeMultipartUpload(bucket: bucket, key: key, uploadId: uploadId,
                                                           parts: parts.map(\.0))
            let expected = Self.hex(Self.md5(parts.reduce(into: Data()) { $0.append($1.1) })) + "-\(parts.count)"
            if result.etag != expected && !result.etagIsOpaque {
                throw S3Error(status: 200, code: S3Error.checksumMismatchCode,
                              message: "CompleteMultipartUpload s3://\(bucket)/\(key): ETag \(result.etag) "
                                  + "does not match the parts sent (\(expected))")
            }
            return S3PutResult(etag: result.etag, versionId: result.versionId, partCount: parts.count)
        } catch {
            // An unstructured task: it is not cancelled with the caller, so the abort is sent
            // even when cancellation is what ended the upload.
            let abort = Task { try await abortMultipartUpload(bucket: bucket, key: key, uploadId: uploadId) }
            if case .failure(let abortError) = await abort.result {
                throw S3Error(status: (error as? S3Error)?.status ?? 0, code: (error as? S3Error)?.code ?? "UploadFailed",
                              message: "MultipartUpload s3://\(bucket)/\(key): \(error); and aborting upload "
                                  + "\(uploadId) failed too (\(abortError)); abortMultipartUploads(prefix:) removes it later",
                              requestId: (error as? S3Error)?.requestId, underlying: error)
            }
            throw error
        }
    }

    /// Starts a multipart upload (`CreateMultipartUpload`).
    /// - Parameters:
    ///   - bucket: The bucket.
    ///   - key: The object key.
    ///   - contentType: The `Content-Type` to store.
    /// - Returns: The upload id.
    /// - Throws: ``S3Error``.
    public func createMultipartUpload(bucket: String, key: String,
                                      contentType: String = "application/octet-stream") async throws -> String {
        let call = S3Call(operation: "CreateMultipartUpload", method: "POST", bucket: bucket, key: key,
                          query: [("uploads", nil)], headers: ["content-type": contentType])
        let root = try await performXML(call, expecting: ["InitiateMultipartUploadResult"]).1
        guard let uploadId = root.text("UploadId"), !uploadId.isEmpty else {
            throw S3Error(status: 200, code: S3Error.malformedResponseCode, message: "\(call.context): no <UploadId>")
        }
        return uploadId
    }

    /// Uploads one part (`UploadPart`) with `Content-MD5` and checks its ETag.
    /// - Parameters:
    ///   - bytes: The part's bytes.
    ///   - md5: Their MD5 digest, if already computed.
    ///   - bucket: The bucket.
    ///   - key: The object key.
    ///   - uploadId: The upload id.
    ///   - partNumber: The part number, 1…10,000.
    /// - Returns: The part number and its verified ETag.
    /// - Throws: ``S3Error`` (``S3Error/checksumMismatchCode`` when the ETag differs).
    public func uploadPart(_ bytes: Data, md5: Data? = nil, bucket: String, key: String, uploadId: String,
                           partNumber: Int) async throws -> S3CompletedPart {
        precondition((1...S3MultipartConfiguration.maximumPartCount).contains(partNumber),
                     "S3Client.uploadPart: part number \(partNumber) outside 1...10000")
        let digest = md5 ?? Self.md5(bytes)
        let call = S3Call(operation: "UploadPart", method: "PUT", bucket: bucket, key: key,
                          query: [("partNumber", String(partNumber)), ("uploadId", uploadId)],
                          headers: ["content-md5": digest.base64EncodedString()], body: bytes)
        let response = try await perform(call)
        let etag = try verifyETag(response, expected: Self.hex(digest), call)
        return S3CompletedPart(partNumber: partNumber, etag: etag)
    }

    /// What `CompleteMultipartUpload` reported.
    struct CompletedUpload {
        var etag: String
        var versionId: String?
        var etagIsOpaque: Bool
    }

    /// Completes a multipart upload (`CompleteMultipartUpload`). S3 may answer 200 and
    /// still fail (an `<Error>` body); that is thrown like any error.
    func completeMultipartUpload(bucket: String, key: String, uploadId: String,
                                 parts: [S3CompletedPart]) async throws -> CompletedUpload {
        var xml = #"<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#
        for part in parts {
            xml += "<Part><PartNumber>\(part.partNumber)</PartNumber><ETag>\"\(S3XMLText.escape(part.etag))\"</ETag></Part>"
        }
        xml += "</CompleteMultipartUpload>"
        let call = S3Call(operation: "CompleteMultipartUpload", method: "POST", bucket: bucket, key: key,
                          query: [("uploadId", uploadId)], headers: ["content-type": "application/xml"],
                          body: Data(xml.utf8))
        let (response, root) = try await performXML(
            call, expecting: ["CompleteMultipartUploadResult",
                              // moto 5.2.1 names the root after the operation.
                              "CompleteMultipartUploadResponse"])
        guard let etag = Self.normalizedETag(root.text("ETag")) else {
            throw S3Error(status: response.status, code: S3Error.checksumMismatchCode,
                          message: "\(call.context): no <ETag>, so the upload cannot be verified")
        }
        return CompletedUpload(etag: etag, versionId: response.headers["x-amz-version-id"],
                               etagIsOpaque: Self.etagIsOpaque(response))
    }

    /// Aborts a multipart upload (`AbortMultipartUpload`), freeing its parts. An upload S3
    /// no longer knows (`NoSuchUpload`: completed or aborted already) counts as aborted.
    /// - Parameters:
    ///   - bucket: The bucket.
    ///   - key: The object key.
    ///   - uploadId: The upload id.
    /// - Throws: ``S3Error``.
    public func abortMultipartUpload(bucket: String, key: String, uploadId: String) async throws {
        do {
            _ = try await perform(S3Call(operation: "AbortMultipartUpload", method: "DELETE", bucket: bucket, key: key,
                                         query: [("uploadId", uploadId)]))
        } catch let error as S3Error where error.code == "NoSuchUpload" {
            return
        }
    }

    /// Lists the multipart uploads in progress under `prefix` (`ListMultipartUploads`,
    /// following the key and upload-id markers).
    /// - Parameters:
    ///   - bucket: The bucket.
    ///   - prefix: Only uploads whose key starts with this.
    /// - Returns: The uploads.
    /// - Throws: ``S3Error``; ``S3Error/malformedResponseCode`` if the markers repeat.
    public func listMultipartUploads(bucket: String, prefix: String = "") async throws -> [S3MultipartUpload] {
        var uploads: [S3MultipartUpload] = []
        var keyMarker: String?
        var uploadIdMarker: String?
        var seen: Set<String> = []
        while true {
            var query: [(String, String?)] = [("uploads", nil)]
            if !prefix.isEmpty { query.append(("prefix", prefix)) }
            if let keyMarker { query.append(("key-marker", keyMarker)) }
            if let uploadIdMarker { query.append(("upload-id-marker", uploadIdMarker)) }
            let call = S3Call(operation: "ListMultipartUploads", method: "GET", bucket: bucket, query: query)
            let root = try await performXML(call, expecting: ["ListMultipartUploadsResult"]).1
            for entry in root.children where entry.name == "Upload" {
                guard let key = entry.text("Key"), let uploadId = entry.text("UploadId"), !uploadId.isEmpty else {
                    throw S3Error(status: 200, code: S3Error.malformedResponseCode,
                                  message: "\(call.context): <Upload> without <Key> and <UploadId>")
                }
                uploads.append(S3MultipartUpload(key: key, uploadId: uploadId,
                                                 initiated: entry.text("Initiated").flatMap(IMDSDate.parse)))
            }
            guard root.text("IsTruncated")?.lowercased() == "true" else { return uploads }
            keyMarker = root.text("NextKeyMarker")
            uploadIdMarker = root.text("NextUploadIdMarker")
            let marker = "\(keyMarker ?? "")\u{0}\(uploadIdMarker ?? "")"
            guard keyMarker != nil, seen.insert(marker).inserted else {
                throw S3Error(status: 200, code: S3Error.malformedResponseCode,
                              message: "\(call.context): truncated listing with a missing or repeated marker")
            }
        }
    }

    /// Aborts every multipart upload under `prefix` (the ones a killed run left open),
    /// optionally only those started before a time, so that an upload in progress elsewhere
    /// is spared.
    /// - Parameters:
    ///   - bucket: The bucket.
    ///   - prefix: Only uploads whose key starts with this.
    ///   - initiatedBefore: Only uploads started before this time (nil: all).
    /// - Returns: The uploads aborted.
    /// - Throws: ``S3Error`` (the first failure; earlier aborts stay done).
    public func abortMultipartUploads(bucket: String, prefix: String,
                                      initiatedBefore: Date? = nil) async throws -> [S3MultipartUpload] {
        let uploads = try await listMultipartUploads(bucket: bucket, prefix: prefix).filter { upload in
            guard let initiatedBefore else { return true }
            guard let initiated = upload.initiated else { return false }
            return initiated < initiatedBefore
        }
        for upload in uploads {
            try await abortMultipartUpload(bucket: bucket, key: upload.key, uploadId: upload.uploadId)
        }
        return uploads
    }
}
