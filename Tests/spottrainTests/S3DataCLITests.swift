import Foundation
import Testing

/// `spottrain train --data s3://BUCKET/PREFIX` on moto (`SPOTTRAIN_MOTO_ENDPOINT`): the four
/// IDX files downloaded once into the data cache, checked against the prefix's SHA256SUMS and
/// their IDX headers, reused by the next run; a missing object exits 78 naming its keys, an
/// object with the wrong bytes 78, an unreachable S3 1.
@Suite(.serialized,
       .enabled(if: Fixtures.mnistDirectory != nil, "needs the real MNIST (Data/mnist, SPOTTRAIN_MNIST_DIR or ../shared/data/mnist)"),
       .enabled(if: Moto.endpoint != nil, "SPOTTRAIN_MOTO_ENDPOINT is not set: start moto with `eval \"$(Scripts/ci/moto.sh start)\"`"))
struct S3DataCLITests {
    static let names = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]

    /// Two steps on 128 examples: enough to see that the data is the data.
    static func arguments(data: String, summary: String) -> [String] {
        ["train", "--data", data, "--train-limit", "128", "--test-limit", "50", "--batch-size", "64", "--epochs", "1",
         "--max-steps", "2", "--seed", "3", "--threads", "2", "--summary", summary, "--quiet"]
    }

    /// A bucket holding the real MNIST files under `prefix` (and its SHA256SUMS when asked).
    static func bucket(prefix: String, files: [String] = names, checksums: Bool = true) async throws -> MotoS3Bucket {
        let bucket = try await MotoS3Bucket.create()
        let directory = try #require(Fixtures.mnistDirectory)
        for name in files {
            try await bucket.put(prefix + "/" + name, try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name)))
        }
        if checksums {
            try await bucket.put(prefix + "/SHA256SUMS", try Data(contentsOf: URL(fileURLWithPath: directory + "/SHA256SUMS")))
        }
        return bucket
    }

    @Test func dataFromS3IsDownloadedOnceCheckedAndReusedAndTrainsLikeTheLocalFiles() async throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let bucket = try await Self.bucket(prefix: "datasets/mnist")
        let data = "s3://\(bucket.name)/datasets/mnist"
        let first = try await ChildProcess.run(Self.arguments(data: data, summary: root + "/1.json")
                                               + ["--data-cache-dir", root + "/cache"], environment: MotoS3Bucket.environment())
        #expect(first.status == 0, "\(first.stderr)")
        for name in Self.names {
            #expect(first.stderr.contains("downloaded \(data)/\(name)"), "\(first.stderr)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: root + "/cache/" + name))
                    == Data(contentsOf: URL(fileURLWithPath: Fixtures.mnistDirectory! + "/" + name)))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/cache").sorted() == Self.names.sorted(),
                "temporary files left behind")
        let second = try await ChildProcess.run(Self.arguments(data: data, summary: root + "/2.json")
                                                + ["--data-cache-dir", root + "/cache"], environment: MotoS3Bucket.environment())
        #expect(second.status == 0, "\(second.stderr)")
        #expect(!second.stderr.contains("downloaded"), "\(second.stderr)")
        #expect(second.stderr.contains("kept from an earlier run"), "\(second.stderr)")
        let local = try await ChildProcess.run(Self.arguments(data: Fixtures.mnistDirectory!, summary: root + "/local.json"),
                                               environment: .hermetic)
        #expect(local.status == 0, "\(local.stderr)")
        let reference = try Fixtures.summary(root + "/local.json")["weights_sha256"] as? String
        #expect(reference != nil)
        #expect(try Fixtures.summary(root + "/1.json")["weights_sha256"] as? String == reference)
        #expect(try Fixtures.summary(root + "/2.json")["weights_sha256"] as? String == reference)
    }

    @Test func theDefaultDataCacheIsUnderTheCacheRoot() async throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let bucket = try await Self.bucket(prefix: "mnist")
        let run = try await ChildProcess.run(Self.arguments(data: "s3://\(bucket.name)/mnist", summary: root + "/s.json"),
                                             environment: MotoS3Bucket.environment(["SPOTTRAIN_CACHE_DIR": root + "/cache"]))
        #expect(run.status == 0, "\(run.stderr)")
        #expect(FileManager.default.fileExists(atPath: root + "/cache/data/s3/\(bucket.name)/mnist/train-images-idx3-ubyte.gz"))
    }

    @Test func aMissingObjectExits78NamingTheKeysTried() async throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let bucket = try await Self.bucket(prefix: "mnist", files: Array(Self.names.dropLast()), checksums: false)
        let run = try await ChildProcess.run(Self.arguments(data: "s3://\(bucket.name)/mnist", summary: root + "/s.json")
                                             + ["--data-cache-dir", root + "/cache"], environment: MotoS3Bucket.environment())
        #expect(run.status == 78, "\(run.stderr)")
        #expect(run.stderr.contains("s3://\(bucket.name)/mnist/t10k-labels-idx1-ubyte.gz"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: root + "/s.json"), "trained without the data")
    }

    @Test func anObjectThatDisagreesWithSHA256SUMSExits78AndIsNotKept() async throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let bucket = try await Self.bucket(prefix: "mnist")
        var labels = try Data(contentsOf: URL(fileURLWithPath: Fixtures.mnistDirectory! + "/train-labels-idx1-ubyte.gz"))
        labels[labels.count / 2] ^= 0xFF
        try await bucket.put("mnist/train-labels-idx1-ubyte.gz", labels)
        let run = try await ChildProcess.run(Self.arguments(data: "s3://\(bucket.name)/mnist", summary: root + "/s.json")
                                             + ["--data-cache-dir", root + "/cache"], environment: MotoS3Bucket.environment())
        #expect(run.status == 78, "\(run.stderr)")
        #expect(run.stderr.contains("s3://\(bucket.name)/mnist/train-labels-idx1-ubyte.gz has SHA-256"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: root + "/cache/train-labels-idx1-ubyte.gz"))
    }

    @Test func anObjectThatIsNotAnIDXFileExits78AndIsNotKept() async throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let bucket = try await Self.bucket(prefix: "mnist", checksums: false)
        try await bucket.put("mnist/train-labels-idx1-ubyte", Data("<html>not found</html>".utf8))
        let run = try await ChildProcess.run(Self.arguments(data: "s3://\(bucket.name)/mnist", summary: root + "/s.json")
                                             + ["--data-cache-dir", root + "/cache"], environment: MotoS3Bucket.environment())
        #expect(run.status == 78, "\(run.stderr)")
        #expect(run.stderr.contains("s3://\(bucket.name)/mnist/train-labels-idx1-ubyte is not an IDX file"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: root + "/cache/train-labels-idx1-ubyte"))
    }

    @Test func anUnreachableS3Exits1AndAMissingBucket78() async throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let unreachable = try await ChildProcess.run(Self.arguments(data: "s3://spottrain-nowhere/mnist", summary: root + "/s.json")
                                                     + ["--data-cache-dir", root + "/cache"],
                                                     environment: MotoS3Bucket.environment(
                                                        ["AWS_ENDPOINT_URL_S3": "http://127.0.0.1:\(Fixtures.closedLoopbackPort())"]))
        #expect(unreachable.status == 1, "\(unreachable.stderr)")
        let missing = "spottrain-missing-\(UUID().uuidString.prefix(8).lowercased())"
        let refused = try await ChildProcess.run(Self.arguments(data: "s3://\(missing)/mnist", summary: root + "/s.json")
                                                 + ["--data-cache-dir", root + "/cache"], environment: MotoS3Bucket.environment())
        #expect(refused.status == 78, "\(refused.stderr)")
        #expect(refused.stderr.contains("NoSuchBucket"), "\(refused.stderr)")
    }

    @Test func dataCacheFlagsWithoutS3DataAreUsageErrors() async throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        for extra in [["--data", Fixtures.mnistDirectory!, "--data-cache-dir", root],
                      ["--data", "s3://Bad_Bucket!/mnist"]] {
            let run = try await ChildProcess.run(["train", "--epochs", "1", "--quiet"] + extra, environment: .hermetic)
            #expect(run.status == 64, "\(extra): \(run.stderr)")
        }
    }
}
