import Logging

extension Resume {
    /// The largest checkpoint object ``latest(from:store:thread:into:batchSize:trainingCount:maxBytes:logger:)``
    /// downloads by default: 16 GiB.
    public static let defaultMaxDownloadBytes = 16 << 30

    /// Resumes from the newest valid checkpoint of the local directory and a store together
    /// (local ∪ store), by step.
    ///
    /// Candidates are ordered by the step their names record, newest first. A local file is
    /// used if it verifies. A checkpoint that only the store has (or whose local copy is
    /// damaged) and that is newer than every valid local one is downloaded (at most
    /// `maxBytes`), verified completely with the file's own CRCs and its name checked against
    /// its content, and only then written into `directory` (atomically, as a save is); one
    /// that fails verification is skipped with a warning, and the next older candidate is
    /// tried, as is one the store reports missing (deleted since the listing), larger than
    /// `maxBytes` or damaged (``CheckpointStoreError/Code/corrupt``). So a partially uploaded
    /// or corrupted object is never used, and resuming on a fresh machine with an empty
    /// directory is exactly the same as resuming on the old one.
    ///
    /// - Parameters:
    ///   - directory: The local checkpoint directory (the cache downloads go to).
    ///   - store: The store that mirrors it.
    ///   - thread: The thread the store's calls run on (this call blocks until they return).
    ///   - trainer: The freshly built trainer to restore into.
    ///   - batchSize: See ``latest(from:into:batchSize:trainingCount:logger:)``.
    ///   - trainingCount: See ``latest(from:into:batchSize:trainingCount:logger:)``.
    ///   - maxBytes: The largest object downloaded (default ``defaultMaxDownloadBytes``).
    ///   - logger: Receives a `warning` per skipped object and an `info` event per download;
    ///     default: a logger labelled `spottrain.store` from the bootstrapped `LoggingSystem`
    ///     (the final local resume logs as `spottrain.checkpoint`).
    /// - Returns: Where the run resumes (``ResumePoint/downloadedFrom`` set when the
    ///   checkpoint came from the store), or nil when neither holds a valid checkpoint.
    /// - Throws: ``CheckpointStoreError`` when the store cannot be listed or a download fails
    ///   for a reason other than the object's content (resuming from an older checkpoint
    ///   instead would silently lose the newer one's progress); otherwise as
    ///   ``latest(from:into:batchSize:trainingCount:logger:)``.
    public static func latest(from directory: CheckpointDirectory, store: any CheckpointStore,
                              thread: CheckpointStoreThread, into trainer: Trainer,
                              batchSize: Int? = nil, trainingCount: Int? = nil,
                              maxBytes: Int = defaultMaxDownloadBytes,
                              logger: Logger? = nil) throws -> ResumePoint? {
        let storeLogger = logger ?? Logger(label: Logger.SpotTrainLabel.store)
        let remote = try thread.run { try await store.list() }
        let local = try directory.list()
        let localNewestValid = local.reversed().first { directory.verify($0).isValid }
        let localValidName = localNewestValid?.name
        var skipped: [SkippedCheckpoint] = []
        var downloaded: (name: String, location: String)?
        for object in remote.sorted(by: { $0.globalStep > $1.globalStep }) {
            if let newest = localNewestValid, object.globalStep <= newest.globalStep { break }
            if object.name == localValidName { break }
            if let size = object.size, size > maxBytes {
                let reason = CheckpointError(.malformed, "the object is \(size) bytes, more than the \(maxBytes) accepted",
                                             path: object.location)
                storeLogger.warning("skipping checkpoint \(object.location): \(reason.message)",
                                    metadata: Logger.Metadata.describing(reason).merging(
                                        ["location": "\(object.location)", "step": "\(object.globalStep)"]))
                skipped.append(SkippedCheckpoint(file: record(object), reason: reason))
                continue
            }
            let bytes: [UInt8]
            do {
                bytes = try thread.run { try await store.get(object.name, maxBytes: maxBytes) }
            } catch let error as CheckpointStoreError where [.notFound, .tooLarge, .corrupt].contains(error.code) {
                // Facts about this object (gone since the listing, too large, damaged), not about
                // the store: the next older candidate is as good a choice as with a local file.
                storeLogger.warning("skipping checkpoint \(object.location): \(error)",
                                    metadata: Logger.Metadata.describing(error).merging(
                                        ["location": "\(object.location)", "step": "\(object.globalStep)"]))
                skipped.append(SkippedCheckpoint(file: record(object), reason: reason(for: error, object)))
                continue
            }
            do {
                let metadata = try CheckpointReader.verify(bytes, path: object.location)
                try CheckpointDirectory.checkName(record(object), metadata)
            } catch let error as CheckpointError {
                storeLogger.warning("skipping checkpoint \(object.location): \(error)",
                                    metadata: Logger.Metadata.describing(error).merging(
                                        ["location": "\(object.location)", "step": "\(object.globalStep)"]))
                skipped.append(SkippedCheckpoint(file: record(object), reason: error.at(object.location)))
                continue
            }
            try directory.fileSystem.createDirectory(atPath: directory.path)
            try directory.writer.write(bytes: bytes, to: directory.path + "/" + object.name)
            storeLogger.info("downloaded checkpoint \(object.location) (\(bytes.count) bytes, verified) to \(directory.path)",
                             metadata: ["location": "\(object.location)", "step": "\(object.globalStep)",
                                        "bytes": "\(bytes.count)", "directory": "\(directory.path)"])
            downloaded = (object.name, object.location)
            break
        }
        guard var point = try latest(from: directory, into: trainer, batchSize: batchSize, trainingCount: trainingCount,
                                     logger: logger) else { return nil }
        if let downloaded, point.file.name == downloaded.name {
            point.downloadedFrom = downloaded.location
        }
        point.skipped = skipped + point.skipped
        return point
    }

    /// Why a download was skipped, as a ``CheckpointError`` about the object: the store's
    /// underlying checkpoint error when it has one (a damaged frame), else one by class.
    private static func reason(for error: CheckpointStoreError, _ object: StoredCheckpoint) -> CheckpointError {
        if let underlying = error.underlying as? CheckpointError, underlying.code != .io {
            return underlying.at(object.location)
        }
        let code: CheckpointError.Code = switch error.code {
        case .corrupt: .checksumMismatch
        case .tooLarge: .malformed
        default: .io
        }
        return CheckpointError(code, "\(error)", path: object.location)
    }

    /// A store object as a ``CheckpointFile`` record (its location as the path).
    private static func record(_ object: StoredCheckpoint) -> CheckpointFile {
        CheckpointFile(path: object.location, name: object.name, globalStep: object.globalStep)
    }
}
