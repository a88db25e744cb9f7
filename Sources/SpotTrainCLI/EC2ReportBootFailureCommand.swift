import ArgumentParser
import EC2Spot
import Foundation

/// `spottrain ec2 report-boot-failure`: record why this instance's boot failed, as a tag.
struct EC2ReportBootFailureCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report-boot-failure",
        abstract: "Tag this instance spottrain:boot-failure=<reason> (the boot recipe does, before it shuts down).",
        discussion: """
        The instance is --instance-id, else this instance (from IMDS). The reason is cut to the 256 \
        characters a tag value may hold. Prints {"instance_id", "tag_key", "reason"}.
        """
    )

    /// The tag that carries the reason.
    static let tagKey = "spottrain:boot-failure"

    /// The longest tag value EC2 accepts.
    static let maximumReasonCharacters = 256

    @OptionGroup var options: EC2Options

    @Option(help: "Why the boot failed (one line).")
    var reason: String

    func validate() throws {
        guard !reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw ValidationError("--reason must not be empty")
        }
    }

    struct Output: Encodable {
        var instanceId: String
        var tagKey: String
        var reason: String

        enum CodingKeys: String, CodingKey {
            case instanceId = "instance_id", tagKey = "tag_key", reason
        }
    }

    func run() async throws {
        try await reportingEC2Errors {
            let context = try await options.makeContext()
            let instanceId = try await context.instanceId()
            let value = String(ec2OneLine(reason).prefix(Self.maximumReasonCharacters))
            try await context.client.createTags(resourceIds: [instanceId], tags: [Tag(key: Self.tagKey, value: value)])
            try EC2Output.print(Output(instanceId: instanceId, tagKey: Self.tagKey, reason: value))
        }
    }
}
