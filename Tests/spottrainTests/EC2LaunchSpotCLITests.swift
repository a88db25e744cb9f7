import Foundation
import Testing

/// `spottrain ec2 launch-spot` as real users call it, against moto behind the logging proxy,
/// which injects capacity errors.
@Suite(.enabled(if: Moto.endpoint != nil,
                "SPOTTRAIN_MOTO_ENDPOINT is not set: start moto with `eval \"$(Scripts/ci/moto.sh start)\"`"))
struct EC2LaunchSpotCLITests {
    typealias Proxy = IAMPolicyCoverageTests.Proxy

    static func launch(_ extra: [String], proxy: Proxy) async throws -> ChildProcess.Result {
        try await ChildProcess.run(["ec2", "launch-spot", "--endpoint", proxy.endpoint, "--region", "us-east-1",
                                    "--image-id", "ami-12c6146b", "--name", "cli-fallback"] + extra,
                                   environment: .hermetic)
    }

    /// What moto holds for an instance, then terminates it.
    static func describeAndTerminate(_ id: String) async throws -> [String: Any] {
        try #require(try await Moto.boto3("""
            i = ec2.describe_instances(InstanceIds=[sys.argv[1]])["Reservations"][0]["Instances"][0]
            shutdown = ec2.describe_instance_attribute(InstanceId=sys.argv[1],
                Attribute="instanceInitiatedShutdownBehavior")["InstanceInitiatedShutdownBehavior"]["Value"]
            print(json.dumps({"type": i["InstanceType"], "subnet": i.get("SubnetId"), "lifecycle": i.get("InstanceLifecycle"),
                              "metadata": i.get("MetadataOptions", {}), "shutdown": shutdown}))
            ec2.terminate_instances(InstanceIds=[sys.argv[1]])
            """, [id]) as? [String: Any])
    }

    @Test func capacityErrorsFallBackToTheNextTypeAndSubnetAndIMDSv2IsRequired() async throws {
        let subnets = try #require(try await Moto.boto3("""
            vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
            a = ec2.create_subnet(VpcId=vpc, CidrBlock="10.77.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]["SubnetId"]
            b = ec2.create_subnet(VpcId=vpc, CidrBlock="10.77.2.0/24", AvailabilityZone="us-east-1b")["Subnet"]["SubnetId"]
            print(json.dumps([a, b]))
            """) as? [String])
        let proxy = try Proxy(failRunInstances: ["InsufficientInstanceCapacity", "InsufficientCapacity", "SpotMaxPriceTooLow"])
        let result = try await Self.launch(["--instance-type", "c7i.large", "--instance-type", "m7i.large",
                                            "--subnet-id", subnets[0], "--subnet-id", subnets[1],
                                            "--metadata-hop-limit", "2"], proxy: proxy)
        #expect(result.status == 0, "\(result.stderr)")
        let output = try result.json()
        let failures = try #require(output["launch_failures"] as? [[String: Any]])
        #expect(failures.map { $0["code"] as? String } == ["InsufficientInstanceCapacity", "InsufficientCapacity",
                                                          "SpotMaxPriceTooLow"])
        #expect(failures.map { $0["instance_type"] as? String } == ["c7i.large", "c7i.large", "m7i.large"])
        #expect(failures.map { $0["subnet_id"] as? String } == [subnets[0], subnets[1], subnets[0]])
        #expect(result.stderr.contains("no capacity for c7i.large in \(subnets[0]): InsufficientInstanceCapacity"))
        // Four RunInstances: three answered by the proxy, no in-place retries.
        #expect(try proxy.entries().filter { $0.action == "RunInstances" }.count == 4)
        let id = try #require((output["instance_ids"] as? [String])?.first)
        let seen = try await Self.describeAndTerminate(id)
        #expect(seen["type"] as? String == "m7i.large")
        #expect(seen["subnet"] as? String == subnets[1])
        #expect(seen["lifecycle"] as? String == "spot")
        #expect(seen["shutdown"] as? String == "terminate")
        let metadata = try #require(seen["metadata"] as? [String: Any])
        #expect(metadata["HttpTokens"] as? String == "required")
        #expect(metadata["HttpPutResponseHopLimit"] as? Int == 2)
    }

    @Test func noCapacityAnywhereFailsNamingEveryCandidate() async throws {
        let proxy = try Proxy(failRunInstances: ["InsufficientInstanceCapacity", "UnfulfillableCapacity"])
        let result = try await Self.launch(["--instance-type", "c7i.large", "--instance-type", "m7i.large"], proxy: proxy)
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderrLines.count == 1, "\(result.stderr)")
        #expect(result.stderr.contains("c7i.large: InsufficientInstanceCapacity"))
        #expect(result.stderr.contains("m7i.large: UnfulfillableCapacity"))
    }

    @Test func persistentRequestsComeOnlyWithStopOrHibernate() async throws {
        let proxy = try Proxy()
        let result = try await Self.launch(["--instance-type", "t3.micro", "--interruption-behavior", "stop"], proxy: proxy)
        #expect(result.status == 0, "\(result.stderr)")
        let id = try #require((try result.json()["instance_ids"] as? [String])?.first)
        #expect(try await Self.describeAndTerminate(id)["shutdown"] as? String == "stop")
        for bad in [["--interruption-behavior", "persistent"], ["--http-tokens", "v1"], ["--metadata-hop-limit", "65"]] {
            let usage = try await Self.launch(["--instance-type", "t3.micro"] + bad, proxy: proxy)
            #expect(usage.status == 64, "\(bad): \(usage.stderr)")
        }
    }
}
