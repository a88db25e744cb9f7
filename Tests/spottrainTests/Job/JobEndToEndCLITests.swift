import Foundation
import Testing

/// The acceptance test of `spottrain job` against one moto server (EC2, Auto Scaling, S3):
/// `job up` creates the spec, the launch template and the group; a harness plays the group's
/// instances (for each InService instance, `job run` with a fresh work dir and a fake IMDS
/// serving that instance's id, type and zone; a spot notice standing when the attempt starts; on exit 75
/// the instance is terminated in moto, which launches the replacement within that call);
/// after two interruptions the job completes with the weights of an uninterrupted `train`.
///
/// moto 5.2.1 launches the group's instances without an instance type (the launch template
/// names none, and moto does not apply the mixed-instances overrides), so the fake IMDS serves
/// the first `--instance-types` entry, as AWS could have chosen it.
@Suite(.serialized,
       .enabled(if: Fixtures.mnistDirectory != nil, "needs the real MNIST (Data/mnist, SPOTTRAIN_MNIST_DIR or ../shared/data/mnist)"),
       .enabled(if: Moto.endpoint != nil, "SPOTTRAIN_MOTO_ENDPOINT is not set: start moto with `eval \"$(Scripts/ci/moto.sh start)\"`"),
       .enabled(if: FakeIMDSServer.isAvailable, "python3 is needed for Scripts/fake_imds.py"))
struct JobEndToEndCLITests {
    /// Long enough (16 steps) that a notice served once training resumed arrives before the end.
    static let trainArguments = ["--train-limit", "512", "--test-limit", "50", "--batch-size", "64", "--epochs", "2",
                                 "--seed", "7", "--threads", "2", "--save-every-steps", "2", "--poll-interval", "0.2", "--quiet"]
    static let instanceTypes = ["c7i.large", "m7i.large"]
    /// The longest any one child may run before the watchdog kills it (a hang, not a speed bound).
    static let watchdog: Duration = .seconds(900)

    /// The variables that point `spottrain` at moto for EC2, Auto Scaling and S3.
    static func environment(_ extra: [String: String] = [:]) -> ChildProcess.Environment {
        MotoS3Bucket.environment(["AWS_ENDPOINT_URL": Moto.endpoint ?? ""].merging(extra) { _, new in new })
    }

    /// A bucket with MNIST under `mnist/`, and a fresh job name.
    struct Fixture {
        let bucket: MotoS3Bucket
        let name: String
        let subnets: [String]
        var store: String { "s3://\(bucket.name)/job" }
        var group: String { "spottrain-" + name }

        static func make(withData: Bool = true) async throws -> Fixture {
            let bucket = try await MotoS3Bucket.create()
            if withData {
                let directory = try #require(Fixtures.mnistDirectory)
                for file in ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                             "t10k-labels-idx1-ubyte.gz", "SHA256SUMS"] {
                    try await bucket.put("mnist/" + file, try Data(contentsOf: URL(fileURLWithPath: directory + "/" + file)))
                }
            }
            let subnets = try #require(try await JobRunCLITests.autoscaling("""
                subnets = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]},
                    {"Name": "availability-zone", "Values": ["us-east-1a", "us-east-1b"]}])["Subnets"]
                print(json.dumps([s["SubnetId"] for s in sorted(subnets, key=lambda s: s["AvailabilityZone"])]))
                """) as? [String])
            return Fixture(bucket: bucket, name: "e2e-\(UUID().uuidString.prefix(8).lowercased())", subnets: subnets)
        }

        /// `spottrain job up` with the train options (`BUCKET` replaced by the bucket's name).
        func up(_ trainArguments: [String], extra: [String] = []) async throws -> ChildProcess.Result {
            let child = try ChildProcess(["job", "up", "--name", name, "--store", store, "--image-id", "ami-12c6146b",
                                          "--instance-types", JobEndToEndCLITests.instanceTypes.joined(separator: ","),
                                          "--subnets", subnets.joined(separator: ","), "--region", "us-east-1",
                                          "--binary-url", "https://downloads.example.com/spottrain",
                                          "--binary-sha256", String(repeating: "ab", count: 32)] + extra
                                         + ["--"] + trainArguments.map { $0.replacingOccurrences(of: "BUCKET", with: bucket.name) },
                                         environment: JobEndToEndCLITests.environment())
            return await child.exited(killingAfter: JobEndToEndCLITests.watchdog)
        }

        /// `spottrain job <command> --name NAME …`.
        func job(_ command: String, _ arguments: [String] = []) async throws -> ChildProcess.Result {
            let child = try ChildProcess(["job", command, "--name", name, "--region", "us-east-1"] + arguments,
                                         environment: JobEndToEndCLITests.environment())
            return await child.exited(killingAfter: JobEndToEndCLITests.watchdog)
        }

        /// `job status --json`.
        func status() async throws -> [String: Any] {
            let result = try await job("status", ["--json", "--on-demand-price", "c7i.large=0.0893"])
            #expect(result.status == 0, "\(result.stderr)")
            return try result.json()
        }

        /// The group's sizes and live instances (nil when it does not exist).
        func describe() async throws -> [String: Any]? {
            try await JobRunCLITests.autoscaling("""
                groups = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[sys.argv[1]])["AutoScalingGroups"]
                if not groups:
                    print(json.dumps(None))
                else:
                    g = groups[0]
                    # moto 5.2.1 drops the mixed-instances policy on UpdateAutoScalingGroup (job run's stop).
                    policy = g.get("MixedInstancesPolicy", {})
                    print(json.dumps({"min": g["MinSize"], "max": g["MaxSize"], "desired": g["DesiredCapacity"],
                                      "capacity_rebalance": g.get("CapacityRebalance"),
                                      "subnets": g["VPCZoneIdentifier"].split(","),
                                      "types": [o["InstanceType"] for o in policy.get("LaunchTemplate", {}).get("Overrides", [])],
                                      "distribution": policy.get("InstancesDistribution", {}),
                                      "tags": {t["Key"]: t["Value"] for t in g["Tags"]},
                                      "instances": [[i["InstanceId"], i["AvailabilityZone"]] for i in g["Instances"]
                                                    if i["LifecycleState"] == "InService"]}))
                """, [group]) as? [String: Any]
        }

        /// The ids of the launch templates named `spottrain-NAME`.
        func templates() async throws -> [String] {
            try #require(try await JobRunCLITests.autoscaling("""
                try:
                    found = ec2.describe_launch_templates(LaunchTemplateNames=[sys.argv[1]])["LaunchTemplates"]
                except Exception:
                    found = []
                print(json.dumps([t["LaunchTemplateId"] for t in found]))
                """, [group]) as? [String])
        }

        /// Plays the group's instances until the group has none or `limit` runs were made:
        /// each InService instance runs `job run`; the first `interruptions` runs get a spot
        /// notice standing when they start, and their instance is then
        /// terminated in moto.
        /// - Returns: The exit statuses of the runs, in order.
        func play(root: String, interruptions: Int, limit: Int = 8) async throws -> [Int32] {
            var statuses: [Int32] = []
            while statuses.count < limit {
                guard let group = try await describe(), (group["desired"] as? Int) == 1,
                      let instance = (group["instances"] as? [[String]])?.first else { break }
                let imds = try FakeIMDSServer(["--instance-id", instance[0], "--availability-zone", instance[1],
                                               "--instance-type", JobEndToEndCLITests.instanceTypes[0]])
                if statuses.count < interruptions {
                    // The notice stands when the attempt starts, so it is acted on whatever the
                    // build's speed: a release build trains this small job in well under a
                    // second, and a notice served later can arrive after the attempt finished.
                    // The watcher sees it on its first poll, while data and checkpoint load, and
                    // training stops before its first batch with an emergency checkpoint.
                    try imds.control("interrupt", #"{"action": "terminate", "in_seconds": 120}"#)
                }
                let child = try ChildProcess(["job", "run", "--store", store, "--work-dir", root + "/work-" + instance[0]],
                                             environment: JobEndToEndCLITests.environment([
                                                "AWS_EC2_METADATA_DISABLED": "false",
                                                "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.endpoint]))
                let result = await child.exited(killingAfter: JobEndToEndCLITests.watchdog)
                imds.stop()
                statuses.append(result.status)
                if result.status == 75 || result.status == 1 {
                    _ = try await JobRunCLITests.autoscaling("""
                        ec2.terminate_instances(InstanceIds=[sys.argv[1]])
                        print(json.dumps(True))
                        """, [instance[0]])
                } else {
                    #expect(result.status == 0 || result.status == 78, "job run: \(result.stderr)")
                    break
                }
            }
            return statuses
        }

        /// The newest attempt whose start step is recorded in `status.json` (nil before).
        func resumedAttempt() async throws -> Int? {
            guard let data = try? await bucket.object("job/status.json"),
                  let status = try JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let attempts = status["attempt_history"] as? [[String: Any]] else { return nil }
            return attempts.last { $0["start_step"] is Int }?["number"] as? Int
        }
    }

    @Test func aJobSurvivesTwoInterruptionsAndEndsWithTheWeightsOfAnUninterruptedTrain() async throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let fixture = try await Fixture.make()
        let up = try await fixture.up(["--data", "s3://BUCKET/mnist"] + Self.trainArguments)
        #expect(up.status == 0, "\(up.stderr)")
        let created = try up.json()
        #expect(created["name"] as? String == fixture.name)
        #expect(created["auto_scaling_group"] as? String == fixture.group)
        #expect(created["store"] as? String == fixture.store)
        #expect((created["launch_template_id"] as? String)?.hasPrefix("lt-") == true)
        let group = try #require(try await fixture.describe())
        #expect(group["min"] as? Int == 0 && group["max"] as? Int == 1 && group["desired"] as? Int == 1)
        #expect(group["types"] as? [String] == Self.instanceTypes)
        #expect(group["subnets"] as? [String] == fixture.subnets)
        #expect(group["capacity_rebalance"] as? Bool == true)
        let distribution = try #require(group["distribution"] as? [String: Any])
        #expect(distribution["OnDemandPercentageAboveBaseCapacity"] as? Int == 0)
        #expect(distribution["SpotAllocationStrategy"] as? String == "price-capacity-optimized")
        let tags = try #require(group["tags"] as? [String: String])
        #expect(tags["spottrain:job"] == fixture.name && tags["spottrain:store"] == fixture.store)
        let pending = try await fixture.status()
        #expect(pending["state"] as? String == "pending")

        let statuses = try await fixture.play(root: root, interruptions: 2)
        #expect(statuses == [75, 75, 0], "job run exit statuses")

        let status = try await fixture.status()
        #expect(status["state"] as? String == "succeeded", "\(status)")
        #expect(status["interruptions"] as? Int == 2)
        #expect(status["attempts"] as? Int == 3)
        #expect((status["interruption_history"] as? [[String: Any]])?.allSatisfy { $0["lost_steps"] as? Int == 0 } == true,
                "the emergency checkpoint loses nothing: \(status)")
        let cost = try #require(status["cost"] as? [String: Any])
        #expect((cost["billable_seconds"] as? Int ?? 0) >= 3 * 60, "60 s at least per instance")
        #expect(cost["on_demand_prices_missing"] as? [String] == [], "\(cost)")
        #expect(try await fixture.describe()?["desired"] as? Int == 0)

        let reference = try await ChildProcess.run(
            ["train", "--data", Fixtures.mnistDirectory!, "--checkpoint-dir", root + "/ref", "--summary", root + "/ref.json"]
                + Self.trainArguments.filter { $0 != "--poll-interval" && $0 != "0.2" },
            environment: .hermetic)
        #expect(reference.status == 0, "\(reference.stderr)")
        let weights = try #require(try Fixtures.summary(root + "/ref.json")["weights_sha256"] as? String)
        #expect(status["weights_sha256"] as? String == weights)

        let table = try await fixture.job("status", ["--on-demand-price", "c7i.large=0.0893"])
        #expect(table.status == 0 && table.stdout.contains("succeeded") && table.stdout.contains("interruptions"), "\(table.stdout)")
    }

    @Test func aPermanentErrorEndsTheJobAsFailedWithDesiredCapacityZero() async throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let fixture = try await Fixture.make(withData: false)
        let up = try await fixture.up(["--data", "s3://BUCKET/no-such-data"] + Self.trainArguments)
        #expect(up.status == 0, "\(up.stderr)")
        let statuses = try await fixture.play(root: root, interruptions: 0)
        #expect(statuses == [78])
        let status = try await fixture.status()
        #expect(status["state"] as? String == "failed", "\(status)")
        #expect((status["reason"] as? String)?.contains("no-such-data") == true, "\(status)")
        #expect(status["interruptions"] as? Int == 0)
        #expect(try await fixture.describe()?["desired"] as? Int == 0)
    }

    @Test func maxInterruptionsEndsTheJobAsFailedAtTheNthInterruption() async throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let fixture = try await Fixture.make()
        let up = try await fixture.up(["--data", "s3://BUCKET/mnist"] + Self.trainArguments, extra: ["--max-interruptions", "1"])
        #expect(up.status == 0, "\(up.stderr)")
        let statuses = try await fixture.play(root: root, interruptions: 1)
        #expect(statuses == [75])
        let status = try await fixture.status()
        #expect(status["state"] as? String == "failed", "\(status)")
        #expect(status["interruptions"] as? Int == 1)
        #expect((status["reason"] as? String)?.contains("max_interruptions 1") == true)
        #expect(try await fixture.describe()?["desired"] as? Int == 0)
    }

    @Test func upTwiceCreatesOneGroupAndOneTemplateAndRefusesAnotherSpec() async throws {
        let fixture = try await Fixture.make(withData: false)
        let arguments = ["--data", "s3://BUCKET/mnist"] + Self.trainArguments
        let first = try await fixture.up(arguments)
        #expect(first.status == 0, "\(first.stderr)")
        let second = try await fixture.up(arguments)
        #expect(second.status == 0, "\(second.stderr)")
        let (one, two) = (try first.json(), try second.json())
        #expect(one["launch_template_id"] as? String == two["launch_template_id"] as? String)
        #expect((two["created"] as? [String: Bool]) == ["spec": false, "launch_template": false, "auto_scaling_group": false])
        #expect(try await fixture.templates().count == 1)
        #expect((try await fixture.describe()?["instances"] as? [[String]])?.count == 1, "the group was not replaced")
        let other = try await fixture.up(arguments.map { $0 == "2" ? "3" : $0 })
        #expect(other.status == 64, "\(other.stderr)")
        #expect(other.stderr.contains("train_arguments"), "\(other.stderr)")
        let refused = try await fixture.up(arguments + ["--fresh"])
        #expect(refused.status == 64 && refused.stderr.contains("--fresh"), "\(refused.stderr)")
    }

    @Test func downRemovesTheGroupAndTheTemplateAndKeepsTheStore() async throws {
        let fixture = try await Fixture.make(withData: false)
        let up = try await fixture.up(["--data", "s3://BUCKET/mnist"] + Self.trainArguments)
        #expect(up.status == 0, "\(up.stderr)")
        let down = try await fixture.job("down")
        #expect(down.status == 0, "\(down.stderr)")
        let result = try down.json()
        #expect(result["auto_scaling_group"] as? String == "deleted")
        #expect(result["launch_template"] as? String == "deleted")
        #expect(try await fixture.describe() == nil)
        #expect(try await fixture.templates().isEmpty)
        #expect(try await fixture.bucket.keys(prefix: "job/").contains("job/job.json"), "the store stays")
        let again = try await fixture.job("down")
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try again.json()["auto_scaling_group"] as? String == "absent")
        #expect(try again.json()["launch_template"] as? String == "absent")
        let gone = try await fixture.job("down", ["--store", fixture.store, "--delete-store"])
        #expect(gone.status == 0, "\(gone.stderr)")
        #expect(try await fixture.bucket.keys(prefix: "job/").isEmpty)
    }
}
