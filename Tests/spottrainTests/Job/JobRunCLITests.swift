import Foundation
import Testing

/// `spottrain job run` end to end on moto (S3 and Auto Scaling, `SPOTTRAIN_MOTO_ENDPOINT`)
/// with a fake IMDS playing the group's instance: success records the weights and shrinks the
/// group to 0; a permanent error fails the job and shrinks the group; an interruption is
/// recorded and, at `max_interruptions`, fails the job.
@Suite(.serialized,
       .enabled(if: Fixtures.mnistDirectory != nil, "needs the real MNIST (Data/mnist, SPOTTRAIN_MNIST_DIR or ../shared/data/mnist)"),
       .enabled(if: Moto.endpoint != nil, "SPOTTRAIN_MOTO_ENDPOINT is not set: start moto with `eval \"$(Scripts/ci/moto.sh start)\"`"),
       .enabled(if: FakeIMDSServer.isAvailable, "python3 is needed for Scripts/fake_imds.py"))
struct JobRunCLITests {
    static let trainArguments = ["--train-limit", "128", "--test-limit", "50", "--batch-size", "64", "--epochs", "2",
                                 "--seed", "5", "--threads", "2", "--save-every-steps", "1", "--poll-interval", "0.2", "--quiet"]

    /// A job: MNIST under `mnist/` of a new bucket, its spec under `job/`, a launch template and
    /// a group (min 0, max 1, desired 1) whose one instance moto creates.
    struct Job {
        let bucket: MotoS3Bucket
        let group: String
        var store: String { "s3://\(bucket.name)/job" }

        static func create(trainArguments: [String], maxInterruptions: Int? = nil) async throws -> Job {
            let bucket = try await MotoS3Bucket.create()
            let directory = try #require(Fixtures.mnistDirectory)
            for name in ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                         "t10k-labels-idx1-ubyte.gz", "SHA256SUMS"] {
                try await bucket.put("mnist/" + name, try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name)))
            }
            let group = "spottrain-test-\(UUID().uuidString.prefix(8).lowercased())"
            var spec: [String: Any] = ["format_version": 1, "name": group, "auto_scaling_group": group,
                                       "launch_template_name": group, "region": "us-east-1",
                                       "train_arguments": trainArguments.map { $0.replacingOccurrences(of: "BUCKET", with: bucket.name) },
                                       "created_at": ISO8601DateFormatter().string(from: Date())]
            if let maxInterruptions { spec["max_interruptions"] = maxInterruptions }
            try await bucket.put("job/job.json", try JSONSerialization.data(withJSONObject: spec))
            _ = try await autoscaling("""
                ec2.create_launch_template(LaunchTemplateName=sys.argv[1],
                                           LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"})
                asg.create_auto_scaling_group(AutoScalingGroupName=sys.argv[1], MinSize=0, MaxSize=1, DesiredCapacity=1,
                                              LaunchTemplate={"LaunchTemplateName": sys.argv[1], "Version": "$Latest"},
                                              AvailabilityZones=["us-east-1a"])
                print(json.dumps(True))
                """, [group])
            return Job(bucket: bucket, group: group)
        }

        /// The group's sizes and its InService instances.
        func describe() async throws -> [String: Any] {
            let value = try await JobRunCLITests.autoscaling("""
                g = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[sys.argv[1]])["AutoScalingGroups"][0]
                print(json.dumps({"min": g["MinSize"], "desired": g["DesiredCapacity"],
                                  "instances": [[i["InstanceId"], i["AvailabilityZone"]] for i in g["Instances"]
                                                if i["LifecycleState"] == "InService"]}))
                """, [group])
            return try #require(value as? [String: Any])
        }

        /// `status.json`.
        func status() async throws -> [String: Any] {
            let data = try await bucket.object("job/status.json")
            return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        }

        /// Runs `job run` as the group's first InService instance.
        func run(in root: String, imds: FakeIMDSServer? = nil, until: ((ChildProcess) -> Void)? = nil) async throws -> ChildProcess.Result {
            let instances = try #require(try await describe()["instances"] as? [[String]])
            let instance = try #require(instances.first)
            let server = try imds ?? FakeIMDSServer(["--instance-id", instance[0], "--availability-zone", instance[1],
                                                      "--instance-type", "c7i.large"])
            let child = try ChildProcess(["job", "run", "--store", store, "--work-dir", root + "/work-" + instance[0]],
                                         environment: MotoS3Bucket.environment([
                                            "AWS_ENDPOINT_URL": Moto.endpoint ?? "",
                                            "AWS_EC2_METADATA_DISABLED": "false",
                                            "AWS_EC2_METADATA_SERVICE_ENDPOINT": server.endpoint]))
            until?(child)
            return await child.exited(killingAfter: .seconds(600))
        }
    }

    /// Runs boto3 code with `asg` (Auto Scaling) and `ec2` clients for moto.
    static func autoscaling(_ body: String, _ arguments: [String] = []) async throws -> Any {
        try await Moto.boto3("""
            asg = boto3.client("autoscaling", endpoint_url=\(Moto.pythonString(Moto.endpoint ?? "")), region_name="us-east-1",
                               aws_access_key_id="testing", aws_secret_access_key="testing")

            """ + body, arguments)
    }

    @Test func aJobThatFinishesRecordsTheWeightsOfAnUninterruptedTrainAndShrinksTheGroupToZero() async throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let job = try await Job.create(trainArguments: ["--data", "s3://BUCKET/mnist"] + Self.trainArguments)
        let run = try await job.run(in: root)
        #expect(run.status == 0, "\(run.stderr)")
        let status = try await job.status()
        #expect(status["state"] as? String == "succeeded", "\(status)")
        #expect(status["attempts"] as? Int == 1)
        #expect((status["interruptions"] as? [Any])?.isEmpty == true)
        let attempt = try #require((status["attempt_history"] as? [[String: Any]])?.first)
        #expect(attempt["instance_type"] as? String == "c7i.large")
        #expect(attempt["exit_status"] as? Int == 0)
        let reference = try await ChildProcess.run(["train", "--data", Fixtures.mnistDirectory!, "--checkpoint-dir", root + "/ref",
                                                    "--summary", root + "/ref.json"] + Self.trainArguments.filter { $0 != "--poll-interval" && $0 != "0.2" },
                                                   environment: .hermetic)
        #expect(reference.status == 0, "\(reference.stderr)")
        #expect(status["weights_sha256"] as? String == (try Fixtures.summary(root + "/ref.json")["weights_sha256"] as? String))
        let group = try await job.describe()
        #expect(group["desired"] as? Int == 0)
        #expect(group["min"] as? Int == 0)
    }

    @Test func aPermanentErrorFailsTheJobWithTheReasonAndShrinksTheGroup() async throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let job = try await Job.create(trainArguments: ["--data", "s3://BUCKET/no-such-data"] + Self.trainArguments)
        let run = try await job.run(in: root)
        #expect(run.status == 78, "\(run.stderr)")
        let status = try await job.status()
        #expect(status["state"] as? String == "failed")
        #expect((status["reason"] as? String)?.contains("no-such-data") == true, "\(status)")
        #expect(try await job.describe()["desired"] as? Int == 0)
    }

    @Test func anInterruptionIsRecordedAndTheNthFailsTheJobWithMaxInterruptions() async throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let job = try await Job.create(trainArguments: ["--data", "s3://BUCKET/mnist"] + Self.trainArguments, maxInterruptions: 1)
        let instances = try #require(try await job.describe()["instances"] as? [[String]])
        let instance = try #require(instances.first)
        let imds = try FakeIMDSServer(["--instance-id", instance[0], "--availability-zone", instance[1]])
        try imds.control("interrupt", #"{"action": "terminate", "in_seconds": 120}"#)
        let run = try await job.run(in: root, imds: imds)
        #expect(run.status == 75, "\(run.stderr)")
        let status = try await job.status()
        #expect(status["state"] as? String == "failed", "\(status)")
        #expect((status["reason"] as? String)?.contains("max_interruptions 1") == true)
        let interruptions = try #require(status["interruptions"] as? [[String: Any]])
        #expect(interruptions.count == 1)
        #expect(interruptions.first?["instance_id"] as? String == instance[0])
        #expect(try await job.describe()["desired"] as? Int == 0)
        let steps = try await job.bucket.checkpointSteps(prefix: "job/checkpoints")
        #expect(steps.last == interruptions.first?["step_at_notice"] as? Int, "the emergency checkpoint is in the store")
    }

    @Test func refusedTrainArgumentsFailTheJobNamingTheFlag() async throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let job = try await Job.create(trainArguments: ["--data", "s3://BUCKET/mnist", "--fresh"] + Self.trainArguments)
        let run = try await job.run(in: root)
        #expect(run.status == 78, "\(run.stderr)")
        #expect(run.stderr.contains("--fresh"), "\(run.stderr)")
    }
}
