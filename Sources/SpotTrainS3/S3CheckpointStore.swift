import EC2Spot
import Foundation
import SpotTrain

/// An S3 bucket (and a prefix in it) as a ``SpotTrain/CheckpointStore``.
///
/// Layout: checkpoint `NAME` (`ckpt-<12 digits>.spt`) is the object `PREFIX/NAME`;
/// ``setAside(_:into:)`` moves objects to `PREFIX/FOLDER/NAME`; nothing else is written but
/// the short-lived probe of ``checkAccess()`` (`PREFIX/.spottrain-store-check-<random>`).
/// With an empty prefix the objects sit at the bucket's root.
///
/// Every upload is verified twice (S3 checks `Content-MD5`, the client checks the ETag); a
/// large one is a parallel multipart upload that is aborted on failure, so an interrupted
/// ``put(_:bytes:)`` never leaves a readable object. Reads are capped at the caller's
/// `maxBytes` while the body streams, and whole single-part objects are checked against
/// their ETag. Failures are ``SpotTrain/CheckpointStoreError``s whose
/// ``SpotTrain/CheckpointStoreError/serviceCode`` is the S3 error code and whose
/// ``SpotTrain/CheckpointStoreError/underlying`` is the ``EC2Spot/S3Error`` (see
/// ``storeError(_:operation:location:)``); retries happen inside the ``EC2Spot/S3Client``
/// first. Task cancellation is rethrown as `CancellationError`.
///
/// S3 actions used: `s3:PutObject`, `s3:GetObject`, `s3:DeleteObject`, `s3:ListBucket`,
/// `s3:ListBucketMultipartUploads`, `s3:AbortMultipartUpload` (CopyObject needs
/// `s3:GetObject` on the source and `s3:PutObject` on the copy).
public struct S3CheckpointStore: CheckpointStore {
    /// The client that sends every request.
    public let client: S3Client
    /// The bucket.
    public let bucket: String
    /// The key prefix, without leading or trailing `/` (empty: the bucket's root).
    public let prefix: String
    /// ``discardIncompleteUploads()`` spares multipart uploads younger than this (seconds),
    /// so that a start never aborts the upload of a writer that is still alive (the
    /// emergency upload of an instance being reclaimed while its replacement starts).
    public let minimumIncompleteUploadAge: Double
    /// Why `bucket` or `prefix` cannot be used, found by the initializer; every operation
    /// throws it before sending anything.
    let configurationError: CheckpointStoreError?

    /// Creates a store on `s3://bucket/prefix`.
    ///
    /// Nothing is sent. Values that ``parse(_:)`` would refuse (an invalid bucket name, a
    /// prefix with a leading or trailing `/`, empty, `.` or `..` segments, or control
    /// characters) do not trap: every operation then throws
    /// ``SpotTrain/CheckpointStoreError/Code/refused`` naming the problem.
    /// - Parameters:
    ///   - client: The S3 client (region, endpoint, credentials, retries, multipart settings).
    ///   - bucket: The bucket name.
    ///   - prefix: The key prefix without leading or trailing `/`; empty for the bucket root.
    ///   - minimumIncompleteUploadAge: See ``minimumIncompleteUploadAge`` (default one hour).
    public init(client: S3Client, bucket: String, prefix: String, minimumIncompleteUploadAge: Double = 3600) {
        self.minimumIncompleteUploadAge = minimumIncompleteUploadAge
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        let location = "s3://\(Self.printable(bucket))/\(Self.printable(prefix))"
        do {
            try Self.checkBucket(bucket, argument: location)
            try Self.checkPrefix(prefix, argument: location)
            configurationError = nil
        } catch let error as CheckpointStoreError {
            configurationError = error
        } catch {
            configurationError = CheckpointStoreError(.refused, "\(error)", location: location, underlying: error)
        }
    }

    // MARK: - Names

    /// `s3://BUCKET/PREFIX` (`s3://BUCKET/` for an empty prefix).
    public var location: String { "s3://\(bucket)/\(prefix)" }

    /// `s3://BUCKET/PREFIX/NAME`.
    /// - Parameter name: A checkpoint name.
    /// - Returns: The object's URL.
    public func location(of name: String) -> String { "s3://\(bucket)/\(key(for: name))" }

    /// The key of `name`: `PREFIX/NAME`, or `NAME` at the bucket root.
    /// - Parameter name: A checkpoint name (or a `FOLDER/NAME` path).
    /// - Returns: The object key.
    func key(for name: String) -> String { keyPrefix + name }

    /// `PREFIX/`, or empty at the bucket root.
    var keyPrefix: String { prefix.isEmpty ? "" : prefix + "/" }

    /// `s3://BUCKET/KEY`, for messages.
    func location(ofKey key: String) -> String { "s3://\(bucket)/\(key)" }

    /// Throws the initializer's finding, if any.
    func checkConfiguration() throws {
        if let configurationError { throw configurationError }
    }

    // MARK: - CheckpointStore

    /// Checks, in this order, that the store can be listed (`ListObjectsV2`, one key), written
    /// (a small `PutObject` at `PREFIX/.spottrain-store-check-<random>`) and cleaned
    /// (`DeleteObject` of that probe). This covers the credentials, the bucket, the region
    /// and the permissions a run needs.
    /// - Throws: ``SpotTrain/CheckpointStoreError``: ``SpotTrain/CheckpointStoreError/Code/refused``
    ///   for what no retry fixes (wrong secret `SignatureDoesNotMatch`, unknown key
    ///   `InvalidAccessKeyId`, `NoSuchBucket`, `AccessDenied`, a bucket in another region…),
    ///   ``SpotTrain/CheckpointStoreError/Code/unavailable`` for network and server failures
    ///   left after the client's retries.
    public func checkAccess() async throws {
        try checkConfiguration()
        let listPrefix = keyPrefix + CheckpointDirectory.prefix
        do {
            _ = try await client.listObjectsPage(bucket: bucket, prefix: listPrefix, maxKeys: 1)
        } catch {
            throw Self.failure(error, operation: "cannot list the store", location: location(ofKey: listPrefix))
        }
        let probe = key(for: ".spottrain-store-check-" + String(UInt64.random(in: 0...UInt64.max), radix: 16))
        do {
            _ = try await client.putObject(Data("spottrain store check\n".utf8), bucket: bucket, key: probe,
                                           contentType: "text/plain")
        } catch {
            throw Self.failure(error, operation: "cannot write to the store", location: location(ofKey: probe))
        }
        do {
            try await client.deleteObject(bucket: bucket, key: probe)
        } catch {
            throw Self.failure(error, operation: "wrote a probe object but cannot delete it (it stays behind)",
                                  location: location(ofKey: probe))
        }
    }

    /// The checkpoints directly under the prefix: `ListObjectsV2` of `PREFIX/ckpt-`, all
    /// pages, keeping the keys whose rest is a checkpoint name (objects in set-aside folders
    /// and other names are left out), with their sizes, ordered by step.
    /// - Returns: The checkpoints.
    /// - Throws: ``SpotTrain/CheckpointStoreError``.
    public func list() async throws -> [StoredCheckpoint] {
        try checkConfiguration()
        let listPrefix = keyPrefix + CheckpointDirectory.prefix
        let objects: [S3ObjectSummary]
        do {
            objects = try await client.listObjects(bucket: bucket, prefix: listPrefix)
        } catch {
            throw Self.failure(error, operation: "cannot list checkpoints", location: location(ofKey: listPrefix))
        }
        let prefixBytes = keyPrefix.utf8.count
        var found: [StoredCheckpoint] = []
        for object in objects where object.key.utf8.starts(with: keyPrefix.utf8) {
            // Keys are compared as bytes: S3 does not normalise Unicode, so neither does this.
            let name = String(decoding: object.key.utf8.dropFirst(prefixBytes), as: UTF8.self)
            guard let step = CheckpointDirectory.globalStep(fromFileName: name) else { continue }
            found.append(StoredCheckpoint(name: name, globalStep: step, size: object.size, location: location(ofKey: object.key)))
        }
        return found.sorted { ($0.globalStep, $0.name) < ($1.globalStep, $1.name) }
    }

    /// Uploads `bytes` as `PREFIX/NAME` with ``EC2Spot/S3Client/upload(_:bucket:key:contentType:)``:
    /// one `PutObject` with `Content-MD5` and an ETag check below the client's multipart
    /// threshold, a parallel multipart upload (every part and the whole checked, aborted on
    /// failure) from it on.
    /// - Parameters:
    ///   - name: A checkpoint name (`ckpt-<12 digits>.spt`).
    ///   - bytes: The complete file.
    /// - Returns: The stored object, with its size.
    /// - Throws: ``SpotTrain/CheckpointStoreError`` (``SpotTrain/CheckpointStoreError/Code/refused``
    ///   for a name that is not a checkpoint name, ``SpotTrain/CheckpointStoreError/Code/corrupt``
    ///   when S3 received other bytes than were sent).
    @discardableResult
    public func put(_ name: String, bytes: [UInt8]) async throws -> StoredCheckpoint {
        try checkConfiguration()
        let step = try CheckpointStoreError.checkName(name, in: location)
        let key = key(for: name)
        do {
            _ = try await client.upload(Data(bytes), bucket: bucket, key: key)
        } catch {
            throw Self.failure(error, operation: "cannot upload \(name)", location: location(ofKey: key))
        }
        return StoredCheckpoint(name: name, globalStep: step, size: bytes.count, location: location(ofKey: key))
    }

    /// Downloads `PREFIX/NAME` with one `GetObject` whose response may not exceed `maxBytes`:
    /// a larger object is refused from its `Content-Length` before the body is read, or, if
    /// the length is not declared, as soon as the bytes received pass the limit. A whole
    /// single-part object is checked against its ETag (MD5).
    /// - Parameters:
    ///   - name: A checkpoint name.
    ///   - maxBytes: The largest object accepted (≥ 0).
    /// - Returns: Its bytes, not yet verified as a checkpoint.
    /// - Throws: ``SpotTrain/CheckpointStoreError``: ``SpotTrain/CheckpointStoreError/Code/notFound``
    ///   (`NoSuchKey`), ``SpotTrain/CheckpointStoreError/Code/tooLarge``,
    ///   ``SpotTrain/CheckpointStoreError/Code/corrupt`` (bytes that do not match the ETag), …
    public func get(_ name: String, maxBytes: Int) async throws -> [UInt8] {
        precondition(maxBytes >= 0, "S3CheckpointStore.get: maxBytes \(maxBytes) < 0")
        try checkConfiguration()
        _ = try CheckpointStoreError.checkName(name, in: location)
        let key = key(for: name)
        do {
            return [UInt8](try await client.getObject(bucket: bucket, key: key, maxBytes: maxBytes).body)
        } catch {
            throw Self.failure(error, operation: "cannot download \(name) (at most \(maxBytes) bytes accepted)",
                                  location: location(ofKey: key))
        }
    }

    /// Deletes `PREFIX/NAME` for each name (`DeleteObjects`, up to 1000 keys per request);
    /// missing objects are no error. Every name is checked before anything is deleted.
    /// - Parameter names: Checkpoint names.
    /// - Throws: ``SpotTrain/CheckpointStoreError``: the request's failure, or the first key S3
    ///   reported it could not delete (its code as ``SpotTrain/CheckpointStoreError/serviceCode``,
    ///   and how many others failed).
    public func delete(_ names: [String]) async throws {
        try checkConfiguration()
        for name in names { _ = try CheckpointStoreError.checkName(name, in: location) }
        guard !names.isEmpty else { return }
        try await deleteKeys(names.map(key(for:)), operation: "cannot delete checkpoints")
    }

    /// Moves objects to `PREFIX/FOLDER/NAME`: copies each one on the server (`CopyObject`),
    /// and only when every copy has succeeded deletes the originals (`DeleteObjects`). A
    /// failure part-way leaves every original in place (and possibly some copies, which
    /// ``list()`` does not see).
    /// - Parameters:
    ///   - names: Checkpoint names.
    ///   - folder: One path component (letters, digits, `-`, `_`, `.`).
    /// - Throws: ``SpotTrain/CheckpointStoreError`` (``SpotTrain/CheckpointStoreError/Code/notFound``
    ///   for a name that is not in the store; objects over 5 GiB cannot be copied and are
    ///   refused by S3 with `InvalidRequest`).
    public func setAside(_ names: [String], into folder: String) async throws {
        try checkConfiguration()
        try CheckpointStoreError.checkFolder(folder, in: location)
        for name in names { _ = try CheckpointStoreError.checkName(name, in: location) }
        for name in names {
            let source = key(for: name)
            let target = key(for: folder + "/" + name)
            do {
                _ = try await client.copyObject(bucket: bucket, sourceKey: source, destinationKey: target)
            } catch {
                throw Self.failure(error, operation: "cannot copy \(name) to \(location(ofKey: target)) (nothing was removed)",
                                      location: location(ofKey: source))
            }
        }
        guard !names.isEmpty else { return }
        try await deleteKeys(names.map(key(for:)),
                             operation: "copied checkpoints to \(location(ofKey: keyPrefix + folder))/ but cannot remove the originals")
    }

    /// Aborts every multipart upload in progress under `PREFIX/` (the whole bucket for an
    /// empty prefix), as a killed writer leaves them (`ListMultipartUploads`,
    /// `AbortMultipartUpload`). Call it when no other writer uses the prefix.
    /// - Returns: How many uploads were aborted.
    /// - Throws: ``SpotTrain/CheckpointStoreError``.
    public func discardIncompleteUploads() async throws -> Int {
        try checkConfiguration()
        do {
            // Only uploads of checkpoint names under the prefix (never another application's
            // keys at the bucket root), and only old ones (never a live writer's).
            let cutoff = Date().addingTimeInterval(-minimumIncompleteUploadAge)
            return try await client.abortMultipartUploads(bucket: bucket, prefix: keyPrefix + CheckpointDirectory.prefix,
                                                          initiatedBefore: cutoff).count
        } catch {
            throw Self.failure(error, operation: "cannot abort incomplete multipart uploads",
                                  location: location(ofKey: keyPrefix))
        }
    }

    /// `DeleteObjects` of `keys`, with per-key failures thrown as one error.
    private func deleteKeys(_ keys: [String], operation: String) async throws {
        let failures: [S3DeleteFailure]
        do {
            failures = try await client.deleteObjects(keys, bucket: bucket)
        } catch {
            throw Self.failure(error, operation: operation, location: location)
        }
        guard let first = failures.first else { return }
        throw Self.deleteFailureError(first, count: failures.count, operation: operation, location: location(ofKey: first.key))
    }
}
