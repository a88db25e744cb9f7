import EC2Spot
import Foundation
import SpotTrainS3

/// A job's objects in its store, `s3://BUCKET/PREFIX/`: `job.json` (``JobSpec``) and
/// `status.json` (``JobStatus``). The checkpoints are under `checkpoints/`, written by the
/// training run's own S3 checkpoint store.
struct JobStore: Sendable {
    /// The S3 client.
    let client: S3Client
    /// The bucket.
    let bucket: String
    /// The prefix, without leading or trailing `/` (empty for the bucket root).
    let prefix: String

    /// `s3://BUCKET/PREFIX`.
    var location: String { "s3://\(bucket)" + (prefix.isEmpty ? "" : "/" + prefix) }

    /// The key of `name` under the prefix.
    func key(_ name: String) -> String { prefix.isEmpty ? name : prefix + "/" + name }

    /// Reads the spec (``JobSpec/validate(location:)`` is left to the caller, which can then
    /// record a spec it cannot run as a failed job).
    /// - Returns: The spec.
    /// - Throws: ``JobError``: `.invalidSpec` when it is missing or not a spec, `.refused` or
    ///   `.unavailable` for a failed request.
    func readSpec() async throws -> JobSpec {
        let where_ = "s3://\(bucket)/\(key(JobSpec.key))"
        guard let bytes = try await read(JobSpec.key) else {
            throw JobError(.invalidSpec, "no job at \(location): \(where_) does not exist (create the job with spottrain job up)")
        }
        let spec: JobSpec
        do {
            spec = try JobJSON.decoder().decode(JobSpec.self, from: bytes)
        } catch {
            throw JobError(.invalidSpec, "\(where_) is not a job spec", underlying: error)
        }
        return spec
    }

    /// Reads the status.
    /// - Returns: The status, or nil when there is none yet.
    /// - Throws: ``JobError`` (`.invalidSpec` for an object that is not a status).
    func readStatus() async throws -> JobStatus? {
        guard let bytes = try await read(JobStatus.key) else { return nil }
        do {
            return try JobJSON.decoder().decode(JobStatus.self, from: bytes)
        } catch {
            throw JobError(.invalidSpec, "s3://\(bucket)/\(key(JobStatus.key)) is not a job status", underlying: error)
        }
    }

    /// Writes the status (one `PutObject`: readers see the old or the new object).
    /// - Throws: ``JobError`` (`.refused`, `.unavailable`).
    func write(_ status: JobStatus) async throws {
        try await write(try JobJSON.encoder().encode(status), to: JobStatus.key)
    }

    /// Writes the spec.
    /// - Throws: ``JobError`` (`.refused`, `.unavailable`).
    func write(_ spec: JobSpec) async throws {
        try await write(try JobJSON.encoder().encode(spec), to: JobSpec.key)
    }

    private func write(_ bytes: Data, to name: String) async throws {
        var body = bytes
        body.append(0x0A)
        do {
            _ = try await client.putObject(body, bucket: bucket, key: key(name), contentType: "application/json")
        } catch {
            throw Self.failure(error, "cannot write s3://\(bucket)/\(key(name))")
        }
    }

    private func read(_ name: String) async throws -> Data? {
        do {
            return try await client.getObject(bucket: bucket, key: key(name), maxBytes: 16 << 20).body
        } catch let error as S3Error where error.code == "NoSuchKey" {
            return nil
        } catch {
            throw Self.failure(error, "cannot read s3://\(bucket)/\(key(name))")
        }
    }

    /// The ``JobError`` of a failed S3 request: refused (access denied, no such bucket, bad
    /// credentials) or unavailable.
    static func failure(_ error: any Error, _ what: String) -> JobError {
        if let s3Error = error as? S3Error, S3CheckpointStore.storeErrorCode(for: s3Error) == .refused {
            return JobError(.refused, what, underlying: s3Error)
        }
        return JobError(.unavailable, what, underlying: error)
    }
}
