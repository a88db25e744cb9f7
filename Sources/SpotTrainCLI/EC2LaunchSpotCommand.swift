import ArgumentParser
import EC2Spot
import Foundation

/// `spottrain ec2 launch-spot`: launch spot instance(s) through `RunInstances`.
struct EC2LaunchSpotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "launch-spot",
        abstract: "Launch spot instance(s) (RunInstances with InstanceMarketOptions), falling back to other types and subnets.",
        discussion: """
        The Availability Zone is --availability-zone (or the subnet's). Several --instance-type and \
        --subnet-id options are tried in order, every subnet with the first type before the next type, \
        moving on when EC2 has no capacity (InsufficientInstanceCapacity, InsufficientCapacity, \
        UnfulfillableCapacity, SpotMaxPriceTooLow, InsufficientFreeAddressesInSubnet, Unsupported). \
        --interruption-behavior terminate (default) makes a one-time request; stop and hibernate a \
        persistent one, as EC2 requires. A shutdown from inside the instance terminates a one-time \
        instance and stops a persistent one. IMDSv2 is required unless --http-tokens optional. Give \
        the instance an instance profile whose role may manage the volume, and a --user-data script \
        that runs `spottrain ec2 ensure-volume` and starts training (see Docs/SpotWorkflow.md). Prints \
        {"instance_ids": […], "instances": [{"instance_id", "state", "availability_zone", \
        "instance_type", …}], "launch_failures": [{"instance_type", "subnet_id", "code", "message"}]}.
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

    @Option(name: .customLong("instance-type"),
            help: "An instance type, for example c7i.xlarge (repeatable: tried in order on capacity errors).")
    var instanceTypes: [String]

    @Option(name: .customLong("key-name"), help: "The EC2 key pair for SSH.")
    var keyName: String?

    @Option(name: .customLong("security-group-id"), help: "A security group id, sg-… (repeatable).")
    var securityGroupIds: [String] = []

    @Option(name: .customLong("subnet-id"), help: "A subnet, subnet-… (repeatable: tried in order on capacity errors).")
    var subnetIds: [String] = []

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

    @Option(name: .customLong("interruption-behavior"),
            help: "terminate (one-time request), stop or hibernate (persistent request).")
    var interruptionBehavior: String = "terminate"

    @Option(name: .customLong("http-tokens"), help: "required (IMDSv2 only, the default) or optional.")
    var httpTokens: String = "required"

    @Option(name: .customLong("metadata-hop-limit"),
            help: "IMDS PUT response hop limit, 1…64 (2 for containers; default: the AMI's).")
    var metadataHopLimit: Int?

    @Flag(name: .customLong("metadata-ipv6"), help: "Also serve IMDS over IPv6 (Nitro instances).")
    var metadataIPv6 = false

    @Flag(help: "Wait until the instances are running.")
    var wait = false

    func validate() throws {
        guard imageId.hasPrefix("ami-") else { throw ValidationError("--image-id must look like ami-…, not '\(imageId)'") }
        guard !instanceTypes.isEmpty, instanceTypes.allSatisfy({ !$0.isEmpty }) else {
            throw ValidationError("--instance-type is required and must not be empty")
        }
        guard RunInstancesRequest.SpotOptions.InterruptionBehavior(rawValue: interruptionBehavior) != nil else {
            throw ValidationError("--interruption-behavior must be terminate, stop or hibernate, not '\(interruptionBehavior)'")
        }
        guard RunInstancesRequest.MetadataOptions.Tokens(rawValue: httpTokens) != nil else {
            throw ValidationError("--http-tokens must be required or optional, not '\(httpTokens)'")
        }
        if let metadataHopLimit, !(1...64).contains(metadataHopLimit) {
            throw ValidationError("--metadata-hop-limit must be in 1…64, not \(metadataHopLimit)")
        }
        guard (1...100).contains(count) else { throw ValidationError("--count must be in 1…100") }
        if let maxPrice {
            guard let price = Double(maxPrice), price > 0, price.isFinite else {
                throw ValidationError("--max-price must be a positive number of USD, not '\(maxPrice)'")
            }
        }
        for group in securityGroupIds where !group.hasPrefix("sg-") {
            throw ValidationError("--security-group-id must look like sg-…, not '\(group)'")
        }
        for subnetId in subnetIds where !subnetId.hasPrefix("subnet-") {
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
            let behavior = RunInstancesRequest.SpotOptions.InterruptionBehavior(rawValue: interruptionBehavior) ?? .terminate
            let request = RunInstancesRequest(
                imageId: imageId, instanceType: instanceTypes[0], minCount: count, maxCount: count, keyName: keyName,
                securityGroupIds: securityGroupIds, subnetId: nil, iamInstanceProfile: profile,
                userData: script, availabilityZone: options.availabilityZone, tagSpecifications: tags,
                spot: RunInstancesRequest.SpotOptions(maxPrice: maxPrice, interruptionBehavior: behavior),
                clientToken: UUID().uuidString,
                metadataOptions: RunInstancesRequest.MetadataOptions(
                    httpTokens: RunInstancesRequest.MetadataOptions.Tokens(rawValue: httpTokens) ?? .required,
                    hopLimit: metadataHopLimit, ipv6Enabled: metadataIPv6 ? true : nil),
                // The boot recipe shuts the instance down when it cannot start training: that
                // must end the billing of a one-time instance, and stop (not relaunch through
                // its request) a persistent one.
                instanceInitiatedShutdownBehavior: behavior == .terminate ? .terminate : .stop)
            let candidates = LaunchCandidate.product(instanceTypes: instanceTypes, subnetIds: subnetIds)
            let outcome = try await context.client.runInstances(request, candidates: candidates)
            for shortage in outcome.shortages {
                printNotice("warning: no capacity for \(shortage.candidate): \(shortage.error.code); tried the next")
            }
            var instances = outcome.instances
            if wait {
                var running: [Instance] = []
                for instance in instances {
                    running.append(try await context.client.waitUntilInstanceRunning(instanceId: instance.instanceId))
                }
                instances = running
            }
            try EC2Output.print(EC2Output.LaunchSpot(instanceIds: instances.map(\.instanceId),
                                                     instances: instances.map(EC2Output.InstanceInfo.init),
                                                     launchFailures: outcome.shortages.map(EC2Output.LaunchFailure.init)))
        }
    }
}
