import Foundation
import Testing
@testable import SpotTrainCLI

/// The train arguments of a job: the flags the job sets are refused (exit 64, naming the
/// flag), the rest must parse as `spottrain train` options.
struct JobTrainArgumentsTests {
    @Test func everyFlagTheJobSetsIsRefusedByName() {
        for (flag, _) in JobTrainArguments.refused {
            for arguments in [["--data", "s3://mnist-data/mnist", flag, "x"], ["--data", "s3://mnist-data/mnist", "\(flag)=x"]] {
                do {
                    try JobTrainArguments.validate(arguments)
                    Issue.record("\(arguments) accepted")
                } catch let error as JobError {
                    #expect(error.exitStatus == 64)
                    #expect(error.message.hasPrefix(flag), "\(error.message)")
                } catch {
                    Issue.record("\(arguments): \(error)")
                }
            }
        }
    }

    @Test func trainOptionsThatDoNotParseAreRefusedWithTheParsersMessage() {
        for arguments in [["--epochs", "2"], ["--data", "s3://mnist-data/mnist", "--epochs", "-1"],
                          ["--data", "s3://mnist-data/mnist", "--no-such-flag"], ["--data", "s3://mnist-data/mnist", "--batch-size", "x"]] {
            #expect(throws: JobError.self, "\(arguments)") { try JobTrainArguments.validate(arguments) }
        }
    }

    @Test func validTrainOptionsAreCompletedWithTheJobsStoreCacheSpotAndSummary() throws {
        let arguments = ["--data", "s3://mnist-data/mnist", "--epochs", "3", "--save-every-steps", "200"]
        try JobTrainArguments.validate(arguments)
        let options = try JobTrainArguments.options(arguments, store: "s3://bucket/jobs/a", workDir: "/work")
        #expect(options.checkpointDir == "s3://bucket/jobs/a/checkpoints")
        #expect(options.cacheDir == "/work")
        #expect(options.spot)
        #expect(options.summary == "/work/summary.json")
        #expect(options.epochs == 3)
        #expect(try options.localCheckpointDirectory() == "/work/s3/bucket/jobs/a/checkpoints")
        #expect(options.dataCacheDirectory(bucket: "mnist-data", prefix: "mnist") == "/work/data/s3/mnist-data/mnist")
    }

    @Test func checksumFilesAreParsedInSha256sumFormatOnly() {
        let digest = String(repeating: "a", count: 64)
        let sums = S3DataSource.parseChecksums(Data("\(digest)  train.gz\n\(digest.uppercased()) *t10k.gz\n\n".utf8))
        #expect(sums == ["train.gz": digest, "t10k.gz": digest])
        #expect(S3DataSource.parseChecksums(Data("\(digest) train.gz\n".utf8)) == nil)
        #expect(S3DataSource.parseChecksums(Data("xyz  train.gz\n".utf8)) == nil)
    }
}
