import EC2Spot
import Foundation

/// What `job up` creates, and how it stays idempotent: the spec (`job.json`) and a `pending`
/// status in the store, the launch template, then the group (last, so that no instance starts
/// before the rest exists). Each is looked up first: an existing one that matches is kept as
/// it is (a second `up` changes nothing), an existing one that differs is refused (exit 64:
/// `job down` first, or another `--name`), a missing one is created (an `up` cut short is
/// completed by the next).
struct JobUp {
    /// The job's name.
    var name: String
    /// The store, `s3://BUCKET/PREFIX`.
    var store: JobStore
    /// The spec to write (its `created_at` is kept from an existing equal spec).
    var spec: JobSpec
    /// The launch template's data (user data: ``JobBootScript``).
    var templateData: LaunchTemplateData
    /// The group's instance types, one override each.
    var instanceTypes: [String]
    /// The group's subnets.
    var subnetIds: [String]

    /// What `job up` prints: one JSON object.
    struct Result: Encodable, Equatable {
        var name: String
        var autoScalingGroup: String
        var launchTemplateId: String
        var launchTemplateName: String
        var store: String
        var region: String
        /// What this `up` created (false: it existed and matched).
        var created: Created

        struct Created: Encodable, Equatable {
            var spec: Bool
            var launchTemplate: Bool
            var autoScalingGroup: Bool

            enum CodingKeys: String, CodingKey {
                case spec, launchTemplate = "launch_template", autoScalingGroup = "auto_scaling_group"
            }
        }

        enum CodingKeys: String, CodingKey {
            case name, autoScalingGroup = "auto_scaling_group", launchTemplateId = "launch_template_id"
            case launchTemplateName = "launch_template_name", store, region, created
        }
    }

    /// Creates what is missing.
    /// - Parameters:
    ///   - ec2: The EC2 client.
    ///   - autoScaling: The Auto Scaling client.
    /// - Returns: The result.
    /// - Throws: ``JobError`` (`.refusedArgument` for an existing job that differs; store
    ///   errors), ``EC2Error``, ``TransportError``.
    func run(ec2: EC2Client, autoScaling: AutoScalingClient) async throws -> Result {
        let groupName = spec.autoScalingGroup
        let existingGroup = try await autoScaling.autoScalingGroup(named: groupName)
        if let existingGroup { try checkOwnership(of: existingGroup) }
        let specCreated = try await ensureSpec()
        let (template, templateCreated) = try await ensureTemplate(ec2)
        var groupCreated = false
        if let existingGroup {
            try check(existingGroup, templateId: template.launchTemplateId)
        } else {
            try await autoScaling.createAutoScalingGroup(groupRequest(templateId: template.launchTemplateId))
            groupCreated = true
        }
        return Result(name: name, autoScalingGroup: groupName, launchTemplateId: template.launchTemplateId,
                      launchTemplateName: template.launchTemplateName, store: store.location, region: spec.region,
                      created: .init(spec: specCreated, launchTemplate: templateCreated, autoScalingGroup: groupCreated))
    }

    /// The group's request: min 0, max 1, desired 1, every type, every subnet, all spot
    /// (`price-capacity-optimized`), capacity rebalance on, the job's tags.
    func groupRequest(templateId: String) -> CreateAutoScalingGroupRequest {
        CreateAutoScalingGroupRequest(
            autoScalingGroupName: spec.autoScalingGroup,
            mixedInstancesPolicy: MixedInstancesPolicy(launchTemplate: LaunchTemplateSpecification(.id(templateId)),
                                                       instanceTypes: instanceTypes, instancesDistribution: .allSpot),
            minSize: 0, maxSize: 1, desiredCapacity: 1, subnetIds: subnetIds, capacityRebalance: true,
            tags: JobNames.groupTags(name: name, store: store.location))
    }

    /// Writes the spec and a `pending` status unless the store holds them; refuses a
    /// different spec. A spec equal but for `created_at` is the same job.
    /// - Returns: Whether the spec was written.
    private func ensureSpec() async throws -> Bool {
        if let existing = try await store.readSpecIfPresent() {
            var comparable = spec
            comparable.createdAt = existing.createdAt
            guard comparable == existing else {
                throw JobError(.refusedArgument, "\(store.location)/\(JobSpec.key) holds another job spec ("
                                   + Self.differences(existing, comparable).joined(separator: "; ")
                                   + "): a job cannot be changed in place; run `spottrain job down --name \(existing.name)` "
                                   + "and use a new --store prefix, or choose another --name and --store")
            }
            return false
        }
        try await store.write(spec)
        if try await store.readStatus() == nil {
            try await store.write(JobStatus.pending(at: spec.createdAt))
        }
        return true
    }

    /// The template named `spottrain-NAME`: created, or checked against what it should be.
    private func ensureTemplate(_ ec2: EC2Client) async throws -> (LaunchTemplate, Bool) {
        if let existing = try await ec2.launchTemplate(named: spec.launchTemplateName) {
            guard existing.tags.value(for: JobNames.jobTag) == name else {
                throw JobError(.refusedArgument, "a launch template named \(spec.launchTemplateName) exists without the tag "
                                   + "\(JobNames.jobTag)=\(name): it is not this job's; choose another --name")
            }
            let versions = try await ec2.describeLaunchTemplateVersions(.id(existing.launchTemplateId),
                                                                        versions: [LaunchTemplateSpecification.latestVersion])
            if let latest = versions.first {
                let differences = Self.differences(latest.launchTemplateData, templateData)
                guard differences.isEmpty else {
                    throw JobError(.refusedArgument, "the launch template \(spec.launchTemplateName) of job \(name) differs ("
                                       + differences.joined(separator: "; ")
                                       + "): run `spottrain job down --name \(name)` first, or choose another --name")
                }
            }
            return (existing, false)
        }
        do {
            let template = try await ec2.createLaunchTemplate(CreateLaunchTemplateRequest(
                launchTemplateName: spec.launchTemplateName, launchTemplateData: templateData,
                versionDescription: "spottrain job \(name)", tags: [Tag(key: JobNames.jobTag, value: name)]))
            return (template, true)
        } catch let error as EC2Error where error.isAlreadyExists {
            // Another `up` created it in between: take it if it is this job's.
            guard let existing = try await ec2.launchTemplate(named: spec.launchTemplateName),
                  existing.tags.value(for: JobNames.jobTag) == name else { throw error }
            return (existing, false)
        }
    }

    /// Refuses a group of the job's name that another job (or nobody) tagged.
    private func checkOwnership(of group: AutoScalingGroup) throws {
        guard JobNames.tag(JobNames.jobTag, of: group) == name else {
            throw JobError(.refusedArgument, "an Auto Scaling group named \(group.autoScalingGroupName) exists without the tag "
                               + "\(JobNames.jobTag)=\(name): it is not this job's; choose another --name")
        }
        let groupStore = JobNames.tag(JobNames.storeTag, of: group)
        guard groupStore == store.location else {
            throw JobError(.refusedArgument, "job \(name) exists with the store \(groupStore ?? "(none)"), not \(store.location): "
                               + "run `spottrain job down --name \(name)` first, or choose another --name")
        }
    }

    /// Refuses an existing group whose types, subnets or template differ.
    private func check(_ group: AutoScalingGroup, templateId: String) throws {
        var differences: [String] = []
        let policy = group.mixedInstancesPolicy
        if policy?.instanceTypes != instanceTypes {
            differences.append("instance types \(policy?.instanceTypes.joined(separator: ",") ?? "(none)") instead of "
                               + instanceTypes.joined(separator: ","))
        }
        if group.subnetIds != subnetIds {
            differences.append("subnets \(group.subnetIds.joined(separator: ",")) instead of \(subnetIds.joined(separator: ","))")
        }
        if let id = policy?.launchTemplate.launchTemplateId, id != templateId {
            differences.append("launch template \(id) instead of \(templateId)")
        }
        guard differences.isEmpty else {
            throw JobError(.refusedArgument, "the Auto Scaling group \(group.autoScalingGroupName) of job \(name) differs ("
                               + differences.joined(separator: "; ")
                               + "): run `spottrain job down --name \(name)` first, or choose another --name")
        }
    }

    /// The fields in which two specs differ (`created_at` aside), for messages.
    static func differences(_ existing: JobSpec, _ requested: JobSpec) -> [String] {
        var result: [String] = []
        func compare<T: Equatable>(_ field: String, _ old: T, _ new: T) {
            if old != new { result.append("\(field): \(old) in the store, \(new) requested") }
        }
        compare("format_version", existing.formatVersion, requested.formatVersion)
        compare("name", existing.name, requested.name)
        compare("auto_scaling_group", existing.autoScalingGroup, requested.autoScalingGroup)
        compare("launch_template_name", existing.launchTemplateName, requested.launchTemplateName)
        compare("region", existing.region, requested.region)
        compare("train_arguments", existing.trainArguments, requested.trainArguments)
        compare("max_interruptions", existing.maxInterruptions.map(String.init) ?? "none",
                requested.maxInterruptions.map(String.init) ?? "none")
        compare("max_hours", existing.maxHours.map { "\($0)" } ?? "none", requested.maxHours.map { "\($0)" } ?? "none")
        return result
    }

    /// The settings in which an existing template version differs from the wanted data
    /// (the image, the user data, the key, the security groups, the instance profile, the
    /// metadata tokens and hop limit, the shutdown behaviour).
    static func differences(_ existing: LaunchTemplateData, _ wanted: LaunchTemplateData) -> [String] {
        var result: [String] = []
        if existing.imageId != wanted.imageId {
            result.append("image \(existing.imageId ?? "(none)") instead of \(wanted.imageId ?? "(none)")")
        }
        if existing.userData != wanted.userData { result.append("user data (store, binary URL or SHA-256, work dir)") }
        if existing.keyName != wanted.keyName {
            result.append("key \(existing.keyName ?? "(none)") instead of \(wanted.keyName ?? "(none)")")
        }
        if existing.securityGroupIds.sorted() != wanted.securityGroupIds.sorted() {
            result.append("security groups \(existing.securityGroupIds.sorted()) instead of \(wanted.securityGroupIds.sorted())")
        }
        if existing.iamInstanceProfile != wanted.iamInstanceProfile { result.append("instance profile") }
        if existing.metadataOptions?.httpTokens != wanted.metadataOptions?.httpTokens
            || existing.metadataOptions?.hopLimit != wanted.metadataOptions?.hopLimit {
            result.append("metadata options")
        }
        if existing.instanceInitiatedShutdownBehavior != wanted.instanceInitiatedShutdownBehavior {
            result.append("shutdown behaviour")
        }
        return result
    }
}

extension JobStore {
    /// The spec, or nil when the store has none.
    /// - Throws: ``JobError`` (`.invalidSpec` for an object that is not a spec; store errors).
    func readSpecIfPresent() async throws -> JobSpec? {
        do {
            return try await readSpec()
        } catch let error as JobError where error.code == .invalidSpec && error.underlying == nil {
            return nil
        }
    }
}
