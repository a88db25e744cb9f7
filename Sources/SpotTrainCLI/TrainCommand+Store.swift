import EC2Spot
import Foundation
import SpotTrain
import SpotTrainS3

/// `spottrain train` with an S3 checkpoint store: `--checkpoint-mirror s3://BUCKET/PREFIX`
/// next to `--checkpoint-dir DIR`, or `--checkpoint-dir s3://BUCKET/PREFIX` alone (the local
/// side is then a cache directory). See `Docs/Checkpoints.md`, "S3 checkpoint store".
extension TrainCommand {
    /// The S3 URL of the store, from `--checkpoint-mirror` or an `s3://` `--checkpoint-dir`.
    var storeURL: String? {
        if let checkpointMirror { return checkpointMirror }
        if let checkpointDir, Self.isS3URL(checkpointDir) { return checkpointDir }
        return nil
    }

    /// Whether a location names an S3 store (`s3://…`).
    static func isS3URL(_ location: String) -> Bool {
        location.lowercased().hasPrefix("s3://")
    }

    /// The local checkpoint directory: `--checkpoint-dir`, or for an `s3://` one the cache
    /// directory `--cache-dir`, else `$SPOTTRAIN_CACHE_DIR`, else `$XDG_CACHE_HOME/spottrain`,
    /// else `~/.cache/spottrain`, followed by `/s3/BUCKET/PREFIX`.
    /// - Throws: ``CheckpointStoreError`` (exit 64) for an `s3://` URL that is not valid.
    func localCheckpointDirectory() throws -> String? {
        guard let checkpointDir else { return nil }
        guard Self.isS3URL(checkpointDir) else { return checkpointDir }
        let (bucket, prefix) = try S3CheckpointStore.parse(checkpointDir)
        return cacheRoot + "/s3/" + bucket + (prefix.isEmpty ? "" : "/" + prefix)
    }

    /// The local cache root: `--cache-dir`, else `$SPOTTRAIN_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/spottrain`, else `~/.cache/spottrain`.
    var cacheRoot: String {
        let variables = ProcessInfo.processInfo.environment
        if let cacheDir {
            return cacheDir
        } else if let configured = variables["SPOTTRAIN_CACHE_DIR"], !configured.isEmpty {
            return configured
        } else if let xdg = variables["XDG_CACHE_HOME"], xdg.hasPrefix("/") {
            return xdg + "/spottrain"
        }
        return (variables["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()) + "/.cache/spottrain"
    }

    /// Builds the S3 store and its mirror, checks that the store can be written (credentials,
    /// bucket, a test write), and discards multipart uploads a killed run left open under the
    /// prefix.
    /// - Parameters:
    ///   - url: The `s3://BUCKET/PREFIX` URL.
    ///   - directory: The local checkpoint directory.
    ///   - thread: The thread store calls run on.
    /// - Returns: The store.
    /// - Throws: ``CheckpointStoreError`` (`.refused`: exit 78 with the AWS code), or the
    ///   configuration errors of ``AWSClientSettings/resolve(variables:profile:region:imds:transport:)``.
    func openStore(_ url: String, thread: CheckpointStoreThread) throws -> S3CheckpointStore {
        let (bucket, prefix) = try S3CheckpointStore.parse(url)
        let client = try s3Client(thread: thread)
        let store = S3CheckpointStore(client: client, bucket: bucket, prefix: prefix)
        try thread.run { try await store.checkAccess() }
        do {
            let discarded = try thread.run { try await store.discardIncompleteUploads() }
            if discarded > 0 {
                printNotice("checkpoint store: aborted \(discarded) unfinished multipart upload(s) under \(store.location) "
                            + "left by an earlier run")
            }
        } catch {
            printNotice("warning: checkpoint store: could not list or abort unfinished uploads under \(store.location): \(error)")
        }
        return store
    }

    /// The S3 client of the store and of `--data s3://…`: `--region`, `--profile` and
    /// `--s3-endpoint` over the AWS CLI's variables and files, the region from IMDS when
    /// nothing names one (IMDS at `--imds-endpoint`, else `AWS_EC2_METADATA_SERVICE_ENDPOINT`).
    /// - Parameter thread: The thread the resolution runs on.
    /// - Returns: The client.
    /// - Throws: The configuration errors of
    ///   ``AWSClientSettings/resolve(variables:profile:region:imds:transport:)``.
    func s3Client(thread: CheckpointStoreThread) throws -> S3Client {
        let variables = ProcessInfo.processInfo.environment
        let imdsURL = imdsEndpoint.flatMap(URL.init(string:))
        let explicitEndpoint = s3Endpoint.flatMap(URL.init(string:))
        return try thread.run { [profile, region] in
            let imds = try InstanceMetadataClient(endpoint: imdsURL, environment: variables)
            let transport = AsyncHTTPClientTransport.aws(environment: variables)
            let settings = try await AWSClientSettings.resolve(variables: variables, profile: profile, region: region,
                                                              imds: imds, transport: transport)
            return try settings.s3Client(endpoint: explicitEndpoint)
        }
    }

    /// `--fresh` for the store: moves every checkpoint under the prefix to
    /// `PREFIX/replaced-<UTC time>-<random>/` (the suffix keeps two `--fresh` runs in one
    /// second apart).
    func setAsideStore(_ store: S3CheckpointStore, thread: CheckpointStoreThread) throws {
        let names = try thread.run { try await store.list() }.map(\.name)
        guard !names.isEmpty else { return }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        let folder = "replaced-" + formatter.string(from: Date()) + "-" + String(UInt16.random(in: 0...UInt16.max), radix: 16)
        try thread.run { try await store.setAside(names, into: folder) }
        printNotice("--fresh: moved \(names.count) checkpoint(s) in \(store.location) to \(store.location)/\(folder)/")
    }

    /// Hands the checkpoint a run resumed from to the mirror when the store lacks it, or holds
    /// an object of that name with another size (it was written by a run without the mirror,
    /// or its upload never finished).
    func uploadIfMissing(_ point: ResumePoint, store: S3CheckpointStore, mirror: CheckpointMirror,
                         thread: CheckpointStoreThread) {
        guard point.downloadedFrom == nil else { return }
        let listed = (try? thread.run { try await store.list() }) ?? []
        let localSize = (try? FileManager.default.attributesOfItem(atPath: point.file.path)[.size] as? Int) ?? nil
        let stored = listed.first { $0.name == point.file.name }
        if stored == nil || stored?.size == nil || stored?.size != localSize {
            mirror.enqueue(point.file)
        }
    }

    /// Resumes from the local directory, or from it and the store together.
    func resume(_ directory: CheckpointDirectory, store: S3CheckpointStore?, thread: CheckpointStoreThread?,
                trainer: Trainer) throws -> ResumePoint? {
        if let store, let thread {
            return try Resume.latest(from: directory, store: store, thread: thread, into: trainer)
        }
        return try Resume.latest(from: directory, into: trainer)
    }

    /// Waits for the newest checkpoint of a run that ended without an interruption to be in
    /// the store: the final save's upload (awaited by ``ModelCheckpoint`` at `trainEnd`), or
    /// the resumed checkpoint's when nothing was saved after it.
    /// - Returns: The result, or nil without a store or without any checkpoint.
    func finalUpload(_ checkpointer: ModelCheckpoint, resumed: ResumePoint?, mirror: CheckpointMirror?)
        -> CheckpointMirror.UploadResult? {
        guard let mirror else { return nil }
        if let result = checkpointer.finalUpload { return result }
        guard let resumed else { return nil }
        let result = mirror.wait(for: resumed.file)
        // Not handed over: it was downloaded from the store, or found there at the start.
        return result == .notQueued ? nil : result
    }
}
