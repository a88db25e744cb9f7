/// A checkpoint object in a ``CheckpointStore``.
public struct StoredCheckpoint: Sendable, Equatable, Hashable {
    /// The name, as in a local directory: `ckpt-<global step, 12 digits>.spt`.
    public var name: String
    /// The global step its name records (its content is checked when it is read).
    public var globalStep: Int
    /// Its size in bytes, when the store reports it.
    public var size: Int?
    /// Where it is, for messages and summaries: a file path or `s3://BUCKET/KEY`.
    public var location: String

    /// Creates a record.
    /// - Parameters:
    ///   - name: The checkpoint name.
    ///   - globalStep: The step the name records.
    ///   - size: Its size in bytes, if known.
    ///   - location: A path or URL naming it.
    public init(name: String, globalStep: Int, size: Int?, location: String) {
        self.name = name
        self.globalStep = globalStep
        self.size = size
        self.location = location
    }
}

/// Somewhere checkpoints can be kept besides the working directory: a local directory
/// (``CheckpointDirectory`` conforms) or an object store (`SpotTrainS3.S3CheckpointStore`).
///
/// A store holds whole checkpoint files under their usual names
/// (``CheckpointDirectory/fileName(forGlobalStep:)``). It never interprets them: the reader
/// (``Resume/latest(from:store:into:batchSize:trainingCount:logger:)``) verifies every byte it
/// downloads with the file's own CRCs before it uses or keeps it, so a store only has to be
/// all-or-nothing per object (an interrupted ``put(_:bytes:)`` must not leave a readable
/// object, or must leave one that fails verification).
///
/// ``CheckpointMirror`` copies a run's local checkpoints into a store off the training thread.
/// Methods are `async`; a store must not block the calling task on network I/O. Errors are
/// ``CheckpointStoreError``s.
public protocol CheckpointStore: Sendable {
    /// Where the store is, for messages: a directory path or `s3://BUCKET/PREFIX`.
    var location: String { get }

    /// Checks that the store can be written now: credentials, the container (bucket or
    /// directory), and a small test write that is deleted again.
    /// - Throws: ``CheckpointStoreError``: ``CheckpointStoreError/Code/refused`` for what no
    ///   retry fixes (wrong secret, no such bucket, access denied),
    ///   ``CheckpointStoreError/Code/unavailable`` otherwise.
    func checkAccess() async throws

    /// The checkpoints in the store (names of the `ckpt-*.spt` form directly in it; others
    /// and set-aside folders are not listed), in no particular order.
    /// - Throws: ``CheckpointStoreError``.
    func list() async throws -> [StoredCheckpoint]

    /// Stores `bytes` as `name`, replacing any object of that name, verified end to end (the
    /// store checks an integrity checksum of what it received).
    /// - Parameters:
    ///   - name: A checkpoint name (`ckpt-….spt`).
    ///   - bytes: The complete file.
    /// - Returns: The stored object.
    /// - Throws: ``CheckpointStoreError``.
    @discardableResult
    func put(_ name: String, bytes: [UInt8]) async throws -> StoredCheckpoint

    /// Reads the object `name`.
    /// - Parameters:
    ///   - name: A checkpoint name.
    ///   - maxBytes: The largest object accepted; a larger one is refused before its body is
    ///     read (``CheckpointStoreError/Code/tooLarge``).
    /// - Returns: Its bytes (not yet verified as a checkpoint).
    /// - Throws: ``CheckpointStoreError`` (``CheckpointStoreError/Code/notFound`` when missing).
    func get(_ name: String, maxBytes: Int) async throws -> [UInt8]

    /// Deletes objects; names that do not exist are no error.
    /// - Parameter names: Checkpoint names.
    /// - Throws: ``CheckpointStoreError``.
    func delete(_ names: [String]) async throws

    /// Moves objects into the sub-folder `folder` of the store (for example
    /// `replaced-20261129T153000Z`), where ``list()`` no longer sees them. Each object is in
    /// the folder before it is removed from the top level.
    /// - Parameters:
    ///   - names: Checkpoint names.
    ///   - folder: One path component (letters, digits, `-`, `_`, `.`).
    /// - Throws: ``CheckpointStoreError``.
    func setAside(_ names: [String], into folder: String) async throws

    /// Discards incomplete uploads that a killed writer left in the store (S3 multipart
    /// uploads), so they cost nothing and are never mistaken for checkpoints.
    /// - Returns: How many were discarded.
    /// - Throws: ``CheckpointStoreError``.
    func discardIncompleteUploads() async throws -> Int

    /// A description of one object, for messages and summaries (`s3://BUCKET/PREFIX/NAME`).
    /// - Parameter name: A checkpoint name.
    func location(of name: String) -> String
}

extension CheckpointStore {
    /// Stores that cannot hold incomplete uploads have nothing to discard.
    public func discardIncompleteUploads() async throws -> Int { 0 }
}
