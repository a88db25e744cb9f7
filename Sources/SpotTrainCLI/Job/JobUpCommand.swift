import ArgumentParser
import EC2Spot
import Foundation

/// `spottrain job up --name NAME --store s3://BUCKET/PREFIX --image-id AMI --instance-types T1,T2
/// --subnets S1,S2 … -- TRAIN-OPTIONS…`: creates a job (spec, launch template, Auto Scaling
/// group) that AWS relaunches after every interruption until it finishes (``JobUp``).
struct JobUpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Create a job: its spec in the store, a launch template and an Auto Scaling group.",
        discussion: """
        The train options after `--` are those of `spottrain train` (for example --data \
        s3://BUCKET/mnist --epochs 12 --save-every-steps 200); the job sets --checkpoint-dir, \
        --checkpoint-mirror, --spot, --summary, --fresh, --cache-dir and --data-cache-dir itself and \
        refuses them. Writes s3://BUCKET/PREFIX/job.json and a pending status.json; creates the launch \
        template spottrain-NAME (IMDSv2 required, hop limit 2, shutdown terminates, tags \
        spottrain:job=NAME on the template, instances and volumes, user data = `spottrain job \
        user-data`), then the group spottrain-NAME (min 0, max 1, desired 1, every type as an override, \
        every subnet, 0 % on-demand, price-capacity-optimized, capacity rebalance on, tags \
        spottrain:job=NAME and spottrain:store=s3://BUCKET/PREFIX, so that `job status` and `job down` \
        need only the name).

        Idempotent: what exists and matches is kept, what is missing is created; a job of that name \
        with other settings is refused (exit 64): a job is not changed in place. Prints \
        {"name", "auto_scaling_group", "launch_template_id", "launch_template_name", "store", \
        "region", "created": {"spec", "launch_template", "auto_scaling_group"}}. Exit statuses: 0 \
        done, 64 usage (bad or refused options, a different job of that name), 78 the store refused, \
        1 AWS or network errors.
        """
    )

    @OptionGroup var aws: JobAWSOptions

    @Option(help: "The job's name (A-Z a-z 0-9 . _ -): the group and the launch template are spottrain-NAME.")
    var name: String

    @Option(help: "The job's store, s3://BUCKET/PREFIX (spec, status, checkpoints).")
    var store: String

    @Option(name: .customLong("image-id"), help: "The AMI, ami-… (Ubuntu 24.04 or Amazon Linux 2023).")
    var imageId: String

    @Option(name: .customLong("instance-types"), help: "Instance types, comma-separated (each an override of the group).")
    var instanceTypes: String

    @Option(help: "Subnets, comma-separated (one per Availability Zone the group may use).")
    var subnets: String

    @Option(name: .customLong("iam-instance-profile"), help: "The instances' profile: a name, or an ARN (arn:…).")
    var iamInstanceProfile: String?

    @Option(name: .customLong("key-name"), help: "An EC2 key pair for SSH.")
    var keyName: String?

    @Option(name: .customLong("security-group-id"), help: "A security group, sg-… (repeatable).")
    var securityGroupIds: [String] = []

    @Option(name: .customLong("max-interruptions"), help: "End the job as failed at this many interruptions.")
    var maxInterruptions: Int?

    @Option(name: .customLong("max-hours"), help: "End the job as failed this many hours after `up`.")
    var maxHours: Double?

    @Option(name: .customLong("binary-url"), help: "Where instances download the spottrain binary (http:// or https://).")
    var binaryURL: String

    @Option(name: .customLong("binary-sha256"), help: "The binary's SHA-256 (64 hex digits), checked before it runs.")
    var binarySHA256: String

    @Option(name: .customLong("work-dir"), help: "The work dir of `job run` on the instances.")
    var workDir: String = "/var/lib/spottrain/job"

    @Option(name: .customLong("metadata-hop-limit"), help: "IMDS PUT response hop limit, 1…64 (2 lets containers reach IMDS).")
    var metadataHopLimit: Int = 2

    @Argument(parsing: .postTerminator, help: "The options of `spottrain train`, after `--`.")
    var trainArguments: [String] = []

    /// The instance types, split and trimmed.
    var instanceTypeList: [String] { Self.list(instanceTypes) }
    /// The subnets, split and trimmed.
    var subnetList: [String] { Self.list(subnets) }

    static func list(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    }

    func validate() throws {
        do {
            try JobNames.validate(name)
            _ = try JobNames.parseStore(store)
        } catch let error as JobError {
            throw ValidationError(error.message)
        }
        guard imageId.hasPrefix("ami-") else { throw ValidationError("--image-id must look like ami-…, not '\(imageId)'") }
        let types = instanceTypeList
        guard !types.isEmpty, types.allSatisfy({ !$0.isEmpty && !$0.contains(" ") }), Set(types).count == types.count else {
            throw ValidationError("--instance-types must list distinct instance types separated by commas, not '\(instanceTypes)'")
        }
        let subnetIds = subnetList
        guard !subnetIds.isEmpty, subnetIds.allSatisfy({ $0.hasPrefix("subnet-") }), Set(subnetIds).count == subnetIds.count else {
            throw ValidationError("--subnets must list distinct subnet-… ids separated by commas, not '\(subnets)'")
        }
        for group in securityGroupIds where !group.hasPrefix("sg-") {
            throw ValidationError("--security-group-id must look like sg-…, not '\(group)'")
        }
        if let iamInstanceProfile, iamInstanceProfile.isEmpty { throw ValidationError("--iam-instance-profile must not be empty") }
        if let keyName, keyName.isEmpty { throw ValidationError("--key-name must not be empty") }
        if let maxInterruptions, maxInterruptions < 1 {
            throw ValidationError("--max-interruptions must be at least 1, not \(maxInterruptions)")
        }
        if let maxHours, !(maxHours > 0 && maxHours.isFinite) {
            throw ValidationError("--max-hours must be a positive number of hours, not \(maxHours)")
        }
        guard (1...64).contains(metadataHopLimit) else {
            throw ValidationError("--metadata-hop-limit must be in 1…64, not \(metadataHopLimit)")
        }
        try JobUserDataCommand.checkBinary(url: binaryURL, sha256: binarySHA256)
        guard workDir.hasPrefix("/"), !workDir.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw ValidationError("--work-dir must be an absolute path without control characters, got '\(workDir)'")
        }
        guard !trainArguments.isEmpty else {
            throw ValidationError("give the train options after `--`, for example -- --data s3://BUCKET/mnist --epochs 12")
        }
    }

    /// The launch template's data.
    /// - Parameter store: The store's normal spelling.
    /// - Throws: ``JobError`` when the boot script is too long.
    func templateData(store: String) throws -> LaunchTemplateData {
        let script = try JobBootScript.render(store: store, binaryURL: binaryURL, binarySHA256: binarySHA256.lowercased(),
                                              workDir: workDir)
        let tags = [Tag(key: JobNames.jobTag, value: name), Tag(key: "Name", value: JobNames.resourceName(name))]
        return LaunchTemplateData(
            imageId: imageId,
            iamInstanceProfile: iamInstanceProfile.map { $0.hasPrefix("arn:") ? .arn($0) : .name($0) },
            keyName: keyName, securityGroupIds: securityGroupIds, userData: script,
            metadataOptions: RunInstancesRequest.MetadataOptions(httpTokens: .required, hopLimit: metadataHopLimit),
            tagSpecifications: [TagSpecification(resourceType: "instance", tags: tags),
                                TagSpecification(resourceType: "volume", tags: tags)],
            instanceInitiatedShutdownBehavior: .terminate)
    }

    func run() async throws {
        do {
            try JobTrainArguments.validate(trainArguments)
        } catch let error as JobError {
            printError(error.message)
            throw ExitCode(ExitStatus.usage)
        }
        try await reportingJobErrors {
            let clients = try await aws.makeClients()
            let jobStore = try clients.store(store)
            let resource = JobNames.resourceName(name)
            let spec = JobSpec(formatVersion: JobSpec.currentFormatVersion, name: name, autoScalingGroup: resource,
                               launchTemplateName: resource, region: clients.region, trainArguments: trainArguments,
                               maxInterruptions: maxInterruptions, maxHours: maxHours, createdAt: Self.wholeSeconds(Date()))
            let up = JobUp(name: name, store: jobStore, spec: spec, templateData: try templateData(store: jobStore.location),
                           instanceTypes: instanceTypeList, subnetIds: subnetList)
            let result = try await up.run(ec2: clients.ec2, autoScaling: clients.autoScaling)
            try EC2Output.print(result)
        }
    }

    /// `date` without its fraction (the spec's JSON dates are whole seconds).
    static func wholeSeconds(_ date: Date) -> Date {
        Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down))
    }
}

/// Runs an operator's `job` command body: an error is one line on standard error and its
/// exit status is ``JobCommand/exitStatus(for:)`` (64, 78, 1); `ExitCode`s pass through.
func reportingJobErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let exit as ExitCode {
        throw exit
    } catch {
        printError(ec2OneLine(String(describing: error)))
        throw ExitCode(JobCommand.exitStatus(for: error))
    }
}
