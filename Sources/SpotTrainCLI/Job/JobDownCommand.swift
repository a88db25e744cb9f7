import ArgumentParser
import EC2Spot
import Foundation

/// `spottrain job down --name NAME [--delete-store]`: deletes the job's group (its instances
/// terminated with it) and its launch template; the store stays unless `--delete-store`.
/// Idempotent: what is already gone is reported as `absent`.
struct JobDownCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "down",
        abstract: "Delete a job's Auto Scaling group (terminating its instance) and launch template.",
        discussion: """
        Deletes the group spottrain-NAME with ForceDelete (AWS terminates its instances and then \
        removes the group; until then describe calls show it as "Delete in progress"), then the \
        launch template spottrain-NAME. Only resources tagged spottrain:job=NAME are deleted. The \
        store (spec, status, checkpoints) stays, so `job status --name NAME --store s3://…` still \
        reads it; --delete-store also deletes every object under s3://BUCKET/PREFIX/ (the store comes \
        from the group's spottrain:store tag, or --store, and must hold this job's job.json). Prints \
        {"name", "auto_scaling_group": "deleted"|"deleting"|"absent", "launch_template": \
        "deleted"|"absent", "store": URL or null, "store_objects_deleted": N or null}. Exit statuses: \
        0 done (also when nothing was left), 64 usage, 78 a resource of that name is not this job's, \
        1 AWS or network errors.
        """
    )

    @OptionGroup var aws: JobAWSOptions

    @Option(help: "The job's name (as given to `job up`).")
    var name: String

    @Option(help: "The job's store, s3://BUCKET/PREFIX (default: the group's spottrain:store tag).")
    var store: String?

    @Flag(name: .customLong("delete-store"), help: "Also delete every object of the job's store.")
    var deleteStore = false

    /// What `job down` prints.
    struct Result: Encodable {
        var name: String
        var autoScalingGroup: String
        var launchTemplate: String
        var store: String?
        var storeObjectsDeleted: Int?

        enum CodingKeys: String, CodingKey {
            case name, autoScalingGroup = "auto_scaling_group", launchTemplate = "launch_template", store
            case storeObjectsDeleted = "store_objects_deleted"
        }

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(name, forKey: .name)
            try container.encode(autoScalingGroup, forKey: .autoScalingGroup)
            try container.encode(launchTemplate, forKey: .launchTemplate)
            try container.encode(store, forKey: .store)
            try container.encode(storeObjectsDeleted, forKey: .storeObjectsDeleted)
        }
    }

    func validate() throws {
        do {
            try JobNames.validate(name)
            if let store { _ = try JobNames.parseStore(store) }
        } catch let error as JobError {
            throw ValidationError(error.message)
        }
    }

    func run() async throws {
        try await reportingJobErrors {
            let clients = try await aws.makeClients()
            let resource = JobNames.resourceName(name)
            let group = try await clients.autoScaling.autoScalingGroup(named: resource)
            if let group, JobNames.tag(JobNames.jobTag, of: group) != name {
                throw JobError(.invalidSpec, "the Auto Scaling group \(resource) is not tagged \(JobNames.jobTag)=\(name): "
                                   + "not deleting what is not this job's")
            }
            let storeURL = store ?? group.flatMap { JobNames.tag(JobNames.storeTag, of: $0) }
            if deleteStore, storeURL == nil {
                throw JobError(.refusedArgument, "--delete-store: the group \(resource) is gone, so the store is unknown: "
                                   + "give --store s3://BUCKET/PREFIX")
            }
            var result = Result(name: name, autoScalingGroup: "absent", launchTemplate: "absent", store: storeURL,
                                storeObjectsDeleted: nil)
            if group != nil {
                result.autoScalingGroup = try await Self.deleteGroup(resource, clients.autoScaling)
            }
            result.launchTemplate = try await Self.deleteTemplate(resource, job: name, clients.ec2)
            if deleteStore, let storeURL {
                let jobStore = try clients.store(storeURL)
                result.store = jobStore.location
                result.storeObjectsDeleted = try await Self.deleteStore(jobStore, job: name)
            }
            try EC2Output.print(result)
        }
    }

    /// Deletes the group with its instances.
    /// - Returns: `deleted`, `deleting` (AWS is still terminating its instances) or `absent`.
    static func deleteGroup(_ name: String, _ client: AutoScalingClient) async throws -> String {
        do {
            try await client.deleteAutoScalingGroup(name: name, forceDelete: true)
        } catch let error as EC2Error where error.isAutoScalingGroupNotFound {
            return "absent"
        } catch let error as EC2Error where error.code == "ScalingActivityInProgress" || error.code == "ResourceInUse" {
            return "deleting"
        }
        return try await client.autoScalingGroup(named: name) == nil ? "deleted" : "deleting"
    }

    /// Deletes the template of that name if it is the job's (by id: some servers answer an
    /// unknown name with `MissingParameter`).
    /// - Returns: `deleted` or `absent`.
    static func deleteTemplate(_ name: String, job: String, _ client: EC2Client) async throws -> String {
        guard let template = try await client.launchTemplate(named: name) else { return "absent" }
        guard template.tags.value(for: JobNames.jobTag) == job else {
            throw JobError(.invalidSpec, "the launch template \(name) is not tagged \(JobNames.jobTag)=\(job): "
                               + "not deleting what is not this job's")
        }
        do {
            try await client.deleteLaunchTemplate(.id(template.launchTemplateId))
        } catch let error as EC2Error where error.isLaunchTemplateNotFound {
            return "absent"
        }
        return "deleted"
    }

    /// Deletes every object under the store's prefix, after checking that its spec is this
    /// job's (or that there is none left).
    /// - Returns: The number of objects deleted.
    static func deleteStore(_ store: JobStore, job: String) async throws -> Int {
        if let spec = try await store.readSpecIfPresent(), spec.name != job {
            throw JobError(.invalidSpec, "\(store.location)/\(JobSpec.key) is job \(spec.name)'s, not \(job)'s: not deleting it")
        }
        let prefix = store.prefix.isEmpty ? "" : store.prefix + "/"
        let keys: [String]
        do {
            keys = try await store.client.listObjects(bucket: store.bucket, prefix: prefix).map(\.key)
        } catch {
            throw JobStore.failure(error, "cannot list \(store.location)/")
        }
        var deleted = 0
        var index = 0
        while index < keys.count {
            let batch = Array(keys[index..<min(index + 1000, keys.count)])
            let failures: [S3DeleteFailure]
            do {
                failures = try await store.client.deleteObjects(batch, bucket: store.bucket)
            } catch {
                throw JobStore.failure(error, "cannot delete the objects of \(store.location)/")
            }
            if let failure = failures.first {
                throw JobError(.unavailable, "cannot delete s3://\(store.bucket)/\(failure.key): \(failure.code) "
                                   + "(\(failures.count) object(s) not deleted)")
            }
            deleted += batch.count
            index += batch.count
        }
        return deleted
    }
}
