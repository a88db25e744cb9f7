import EC2Spot
import SpotTrainS3

/// How a job's AWS resources are named and tagged, so that `job status` and `job down` find
/// the job, and its store, from its name alone: the group and the launch template are both
/// `spottrain-NAME`; both carry `spottrain:job=NAME`, and the group also
/// `spottrain:store=s3://BUCKET/PREFIX` (propagated to the instances, with `Name`).
enum JobNames {
    /// The tag naming the job on the group, the template, the instances and their volumes.
    static let jobTag = "spottrain:job"
    /// The tag of the group holding the job's store URL.
    static let storeTag = "spottrain:store"
    /// The longest job name (the template name allows 128 characters, `spottrain-` included).
    static let maximumNameLength = 100

    /// `spottrain-NAME`: the group's and the launch template's name.
    static func resourceName(_ name: String) -> String { "spottrain-" + name }

    /// Refuses a name that cannot name both a group and a launch template.
    /// - Parameter name: `--name`.
    /// - Throws: ``JobError`` (`.refusedArgument`) naming the rule.
    static func validate(_ name: String) throws {
        guard !name.isEmpty, name.count <= maximumNameLength,
              name.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)
                                                   || $0 == "-" || $0 == "_" || $0 == ".") }) else {
            throw JobError(.refusedArgument, "--name must be 1…\(maximumNameLength) characters of A-Z a-z 0-9 . _ -, got '\(name)'")
        }
    }

    /// `(bucket, prefix)` of a store URL, and its normal spelling `s3://BUCKET/PREFIX`.
    /// - Parameter url: `--store`.
    /// - Returns: The bucket and the prefix (without leading or trailing `/`).
    /// - Throws: ``JobError`` (`.refusedArgument`) naming the flag.
    static func parseStore(_ url: String) throws -> (bucket: String, prefix: String) {
        do {
            return try S3CheckpointStore.parse(url)
        } catch {
            throw JobError(.refusedArgument, "--store: \(error)")
        }
    }

    /// The tags of the group (propagated to its instances).
    static func groupTags(name: String, store: String) -> [AutoScalingTag] {
        [AutoScalingTag(key: jobTag, value: name), AutoScalingTag(key: storeTag, value: store),
         AutoScalingTag(key: "Name", value: resourceName(name))]
    }

    /// The value of `key` among a group's tags.
    static func tag(_ key: String, of group: AutoScalingGroup) -> String? {
        group.tags.first { $0.key == key }?.value
    }
}
