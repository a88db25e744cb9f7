import ArgumentParser
import EC2Spot
import Foundation

/// `spottrain ec2 launch-spot`: launch spot instance(s) through `RunInstances`.
struct EC2LaunchSpotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "launch-spot",
        abstract: "Launch spot instance(s) (RunInstances with InstanceMarketOptions, one-time, terminate on interruption).",
        discussion: """
        The Availability Zone is --availability-zone (or the subnet's). Give the instance an instance \
        profile whose role may manage the volume, and a --user-data script that runs `spottrain ec2 \
        ensure-volume` and starts training (see Docs/SpotWorkflow.md). Prints {"instance_ids": […], \
        "instances": [{"instance_id", "state", "availability_zone", …}]}.
        """
    )

    /// The tag every launched instance (and its spot request) carries; its value is `--name`
    /// or `spottrain`.
    static let instanceTagKey = "spottrain:instance"

    /// The user-data size limit of EC2, before base64 encoding.
    static let maximumUserDataBytes = 16 * 1024

    @OptionGroup var options: EC2Options

    @Option(name: .customLong("image-id"), help: "The AMI id, ami-….")
    var imageId: String

    @Option(name: .customLong("instance-type"), help: "The instance type, for example c7i.xlarge.")
    var instanceType: String

    @Option(name: .customLong("key-name"), help: "The EC2 key pair for SSH.")
    var keyName: String?

    @Option(name: .customLong("security-group-id"), help: "A security group id, sg-… (repeatable).")
    var securityGroupIds: [String] = []

    @Option(name: .customLong("subnet-id"), help: "The subnet, subnet-….")
    var subnetId: String?

    @Option(name: .customLong("iam-instance-profile"), help: "The instance profile: a name, or an ARN (arn:…).")
    var iamInstanceProfile: String?

    @Option(name: .customLong("user-data"), help: "A file whose contents become the instance's user data (at most 16 KiB).")
    var userData: String?

    @Option(name: .customLong("max-price"), help: "Highest price per hour in USD (default: the on-demand price).")
    var maxPrice: String?

    @Option(help: "Value of the instances' Name and spottrain:instance tags.")
    var name: String?

    @Option(help: "How many instances to launch.")
    var count: Int = 1

    @Flag(help: "Wait until the instances are running.")
    var wait = false

    func validate() throws {
        guard imageId.hasPrefix("ami-") else { throw ValidationError("--image-id must look like ami-…, not '\(imageId)'") }
        guard !instanceType.isEmpty else { throw ValidationError("--instance-type must not be empty") }
        guard (1...100).contains(count) else { throw ValidationError("--count must be in 1…100") }
        if let maxPrice {
            guard let price = Double(maxPrice), price > 0, price.isFinite else {
                throw ValidationError("--max-price must be a positive number of USD, not '\(maxPrice)'")
            }
        }
        for group in securityGroupIds where !group.hasPrefix("sg-") {
            throw ValidationError("--security-group-id must look like sg-…, not '\(group)'")
        }
        if let subnetId, !subnetId.hasPrefix("subnet-") {
            throw ValidationError("--subnet-id must look like subnet-…, not '\(subnetId)'")
        }
        if let iamInstanceProfile, iamInstanceProfile.isEmpty {
            throw ValidationError("--iam-instance-profile must not be empty")
        }
    }

    func run() async throws {
        if let userData { try PathArguments.require(userData, is: .inputFile, for: "--user-data") }
        try await reportingEC2Errors {
            var script: String?
            if let userData {
                let data = try Data(contentsOf: URL(fileURLWithPath: userData))
                guard data.count <= Self.maximumUserDataBytes else {
                    throw EC2CLIError("--user-data \(userData) has \(data.count) bytes; EC2 accepts at most \(Self.maximumUserDataBytes)")
                }
                guard let text = String(data: data, encoding: .utf8) else {
                    throw EC2CLIError("--user-data \(userData) is not UTF-8 text")
                }
                script = text
            }
            let context = try await options.makeContext()
            // `spottrain:instance` marks the instances SpotTrain manages (IAM policies in
            // Docs/SpotWorkflow.md condition on it).
            var instanceTags = [Tag(key: Self.instanceTagKey, value: name ?? "spottrain")]
            if let name { instanceTags.append(Tag(key: "Name", value: name)) }
            let tags = [TagSpecification(resourceType: "instance", tags: instanceTags),
                        TagSpecification(resourceType: "spot-instances-request", tags: instanceTags)]
            let profile = iamInstanceProfile.map { value -> RunInstancesRequest.IAMInstanceProfile in
                value.hasPrefix("arn:") ? .arn(value) : .name(value)
            }
            let request = RunInstancesRequest(
                imageId: imageId, instanceType: instanceType, minCount: count, maxCount: count, keyName: keyName,
                securityGroupIds: securityGroupIds, subnetId: subnetId, iamInstanceProfile: profile,
                userData: script, availabilityZone: options.availabilityZone, tagSpecifications: tags,
                spot: RunInstancesRequest.SpotOptions(maxPrice: maxPrice),
                clientToken: UUID().uuidString)
            var instances = try await context.client.runInstances(request)
            if wait {
                var running: [Instance] = []
                for instance in instances {
                    running.append(try await context.client.waitUntilInstanceRunning(instanceId: instance.instanceId))
                }
                instances = running
            }
            try EC2Output.print(EC2Output.LaunchSpot(instanceIds: instances.map(\.instanceId),
                                                     instances: instances.map(EC2Output.InstanceInfo.init)))
        }
    }
}
