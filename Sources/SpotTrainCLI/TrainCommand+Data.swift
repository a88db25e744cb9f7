import Foundation
import SpotTrain
import SpotTrainS3

/// `spottrain train --data s3://BUCKET/PREFIX`: the IDX files are downloaded once into a
/// local data cache and loaded from there (see ``S3DataSource`` and `Docs/Data.md`).
extension TrainCommand {
    /// The local directory the files of `--data s3://BUCKET/PREFIX` go to: `--data-cache-dir`,
    /// else ``cacheRoot`` (`--cache-dir`, `$SPOTTRAIN_CACHE_DIR`, `$XDG_CACHE_HOME/spottrain`,
    /// `~/.cache/spottrain`) followed by `/data/s3/BUCKET/PREFIX`.
    /// - Parameters:
    ///   - bucket: The bucket.
    ///   - prefix: The prefix (empty for the bucket root).
    /// - Returns: The path.
    func dataCacheDirectory(bucket: String, prefix: String) -> String {
        if let dataCacheDir { return dataCacheDir }
        return cacheRoot + "/data/s3/" + bucket + (prefix.isEmpty ? "" : "/" + prefix)
    }

    /// Downloads what the data cache lacks of `--data s3://BUCKET/PREFIX`, one line per file
    /// on standard error.
    /// - Returns: The local directory holding the four files.
    /// - Throws: ``S3DataError``; ``CheckpointStoreError`` (`refused`, exit 78) for a URL that
    ///   is not valid; the configuration errors of the S3 client.
    func fetchS3Data() throws -> String {
        let (bucket, prefix) = try S3CheckpointStore.parse(data)
        let directory = dataCacheDirectory(bucket: bucket, prefix: prefix)
        let thread = CheckpointStoreThread(name: "spottrain.data-download")
        defer { thread.shutdown() }
        let source = S3DataSource(client: try s3Client(thread: thread), bucket: bucket, prefix: prefix)
        try thread.run {
            try await source.fetch(into: directory) { name, outcome in
                switch outcome {
                case .reused:
                    printNotice("data: \(directory)/\(name) is \(source.location(name)) (kept from an earlier run)")
                case .downloaded(let bytes):
                    printNotice("data: downloaded \(source.location(name)) (\(bytes) bytes) to \(directory)/\(name)")
                }
            }
        }
        return directory
    }
}
