import Foundation
import Testing

/// A bucket on the open moto server (`SPOTTRAIN_MOTO_ENDPOINT`), seen and changed through
/// boto3, for the `train` tests with an S3 checkpoint store.
struct MotoS3Bucket {
    /// The bucket's name.
    let name: String

    /// Creates a bucket with a unique name.
    static func create() async throws -> MotoS3Bucket {
        let name = "spottrain-cli-\(UUID().uuidString.prefix(8).lowercased())"
        _ = try await s3("s3.create_bucket(Bucket=sys.argv[1]); print(json.dumps(True))", [name])
        return MotoS3Bucket(name: name)
    }

    /// The variables that point a child's S3 client at moto, with moto's test credentials and
    /// no IMDS (see ``ChildProcess/Environment/hermetic``).
    static func environment(_ overrides: [String: String] = [:]) -> ChildProcess.Environment {
        .hermetic(overriding: ["AWS_ENDPOINT_URL_S3": Moto.endpoint ?? "", "AWS_REGION": "us-east-1"]
            .merging(overrides) { _, new in new })
    }

    /// Every key in the bucket under `prefix`, sorted.
    func keys(prefix: String = "") async throws -> [String] {
        let value = try await Self.s3("""
            keys = []
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=sys.argv[1], Prefix=sys.argv[2]):
                keys += [o["Key"] for o in page.get("Contents", [])]
            print(json.dumps(sorted(keys)))
            """, [name, prefix])
        return try #require(value as? [String])
    }

    /// The steps of the checkpoint objects directly under `prefix/`.
    func checkpointSteps(prefix: String) async throws -> [Int] {
        try await keys(prefix: prefix + "/").compactMap { key -> Int? in
            let name = String(key.dropFirst(prefix.count + 1))
            guard !name.contains("/"), name.hasPrefix("ckpt-"), name.hasSuffix(".spt") else { return nil }
            return Int(name.dropFirst(5).dropLast(4))
        }.sorted()
    }

    /// An object's bytes.
    func object(_ key: String) async throws -> Data {
        let value = try await Self.s3("""
            import base64
            print(json.dumps(base64.b64encode(s3.get_object(Bucket=sys.argv[1], Key=sys.argv[2])["Body"].read()).decode()))
            """, [name, key])
        let text = try #require(value as? String)
        return try #require(Data(base64Encoded: text))
    }

    /// Stores `bytes` at `key` (through a temporary file: an argument cannot hold megabytes).
    func put(_ key: String, _ bytes: Data) async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("spottrain-put-\(UUID().uuidString)")
        try bytes.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        _ = try await Self.s3("""
            s3.put_object(Bucket=sys.argv[1], Key=sys.argv[2], Body=open(sys.argv[3], "rb").read()); print(json.dumps(True))
            """, [name, key, file.path])
    }

    /// Runs boto3 code with `s3` bound to a client for the open moto server.
    static func s3(_ body: String, _ arguments: [String] = []) async throws -> Any {
        let script = """
            import json, sys, boto3
            s3 = boto3.client("s3", endpoint_url=\(Moto.pythonString(Moto.endpoint ?? "")), region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")

            """ + body
        return try await Moto.python(script, arguments)
    }
}
