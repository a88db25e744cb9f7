import ArgumentParser
import EC2Spot
import Foundation

/// `spottrain job status --name NAME [--json]`: the job's state, progress, lost work and
/// cost (``JobReport``), found from the name alone (the group `spottrain-NAME` and its
/// `spottrain:store` tag; `--store` when the group is gone).
struct JobStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a job's state, progress, interruptions, lost work and cost.",
        discussion: """
        state is pending, running, recovering (the last attempt ended, or its instance left the \
        group; the group launches another), succeeded or failed. attempts counts `job run` starts and \
        interruptions the spot notices answered with a checkpoint, as s3://BUCKET/PREFIX/status.json \
        records them (the instance terminated at completion is not an interruption).

        Cost: billable seconds per attempt run from `job run`'s start to its end (boot and shutdown \
        are not included; 60 seconds at least per instance, as EC2 bills Linux), summed per instance \
        type and Availability Zone, priced with DescribeSpotPriceHistory (the price in effect at each \
        moment). On-demand prices are not guessed: give --on-demand-price TYPE=USD_PER_HOUR for each \
        type; the on-demand cost and the saving cover the types with a price, and the others are \
        listed in on_demand_prices_missing.

        --json prints one object: name, store, auto_scaling_group, state, reason, attempts, \
        interruptions, current_instance {instance_id, instance_type, availability_zone, \
        lifecycle_state}, group {min_size, max_size, desired_capacity, instances, status}, global_step, \
        epoch, newest_checkpoint, weights_sha256 (once succeeded), lost_steps_total, \
        interruption_history [{attempt, instance_id, time, step_at_notice, checkpoint_step, \
        lost_steps}], attempt_history [{number, instance_id, instance_type, availability_zone, \
        started_at, ended_at, exit_status, start_step, last_step, lost_steps, billable_seconds}], \
        created_at, updated_at, elapsed_seconds, usage [{instance_type, availability_zone, \
        billable_seconds, spot_cost_usd, on_demand_price_per_hour_usd, on_demand_cost_usd, \
        saving_usd}], cost {billable_seconds, spot_usd, on_demand_usd, saving_usd, saving_percent, \
        on_demand_prices_missing, spot_prices_missing}. Exit statuses: 0, 64 usage, 78 no such job \
        or an invalid status object, 1 AWS or network errors.
        """
    )

    @OptionGroup var aws: JobAWSOptions

    @Option(help: "The job's name (as given to `job up`).")
    var name: String

    @Option(help: "The job's store, s3://BUCKET/PREFIX (default: the group's spottrain:store tag; needed once the group is gone).")
    var store: String?

    @Option(name: .customLong("on-demand-price"),
            help: "The on-demand price of a type, TYPE=USD_PER_HOUR (repeatable), for the on-demand cost and the saving.")
    var onDemandPrices: [String] = []

    @Flag(help: "Print one JSON object instead of the table.")
    var json = false

    func validate() throws {
        do {
            try JobNames.validate(name)
            if let store { _ = try JobNames.parseStore(store) }
            for price in onDemandPrices { _ = try JobCost.parseOnDemandPrice(price) }
        } catch let error as JobError {
            throw ValidationError(error.message)
        }
    }

    func run() async throws {
        try await reportingJobErrors {
            var prices: [String: Decimal] = [:]
            for text in onDemandPrices {
                let (type, price) = try JobCost.parseOnDemandPrice(text)
                prices[type] = price
            }
            let clients = try await aws.makeClients()
            let groupName = JobNames.resourceName(name)
            let group = try await clients.autoScaling.autoScalingGroup(named: groupName)
            if let group, JobNames.tag(JobNames.jobTag, of: group) != name {
                throw JobError(.invalidSpec, "the Auto Scaling group \(groupName) is not tagged \(JobNames.jobTag)=\(name): "
                                   + "it is not a spottrain job")
            }
            guard let storeURL = store ?? group.flatMap({ JobNames.tag(JobNames.storeTag, of: $0) }) else {
                throw JobError(.invalidSpec, "no job named \(name): there is no Auto Scaling group \(groupName) in "
                                   + "\(clients.region) (give --store s3://BUCKET/PREFIX for a job whose group is gone)")
            }
            let jobStore = try clients.store(storeURL)
            let spec = try await jobStore.readSpecIfPresent()
            let status = try await jobStore.readStatus()
            guard spec != nil || status != nil else {
                throw JobError(.invalidSpec, "no job at \(jobStore.location): neither \(JobSpec.key) nor \(JobStatus.key) exists")
            }
            let now = Date()
            let spotPrices = try await Self.spotPrices(for: status, group: group, now: now, ec2: clients.ec2)
            let report = JobReport.make(name: name, store: jobStore.location, groupName: groupName, spec: spec,
                                        status: status, group: group, spotPrices: spotPrices, onDemandPrices: prices,
                                        now: now)
            if json {
                try Self.printJSON(report)
            } else {
                FileHandle.standardOutput.write(Data(redactedForOutput(report.table()).utf8))
            }
        }
    }

    /// The spot price points per `TYPE ZONE` over the attempts' intervals (one request per
    /// type and zone; points of other zones are dropped, as some servers ignore the filter).
    static func spotPrices(for status: JobStatus?, group: AutoScalingGroup?, now: Date,
                           ec2: EC2Client) async throws -> [String: [SpotPrice]] {
        guard let status else { return [:] }
        var spans: [String: (type: String, zone: String, start: Date, end: Date)] = [:]
        for (attempt, interval) in zip(status.attemptHistory, JobReport.intervals(status, group: group, now: now)) {
            let key = JobReport.usageKey(attempt.instanceType, attempt.availabilityZone)
            let end = interval.start.addingTimeInterval(TimeInterval(JobCost.billableSeconds(from: interval.start, to: interval.end)))
            if let span = spans[key] {
                spans[key] = (span.type, span.zone, min(span.start, interval.start), max(span.end, end))
            } else {
                spans[key] = (attempt.instanceType, attempt.availabilityZone, interval.start, end)
            }
        }
        var result: [String: [SpotPrice]] = [:]
        for (key, span) in spans.sorted(by: { $0.key < $1.key }) where !span.type.isEmpty && !span.zone.isEmpty {
            let points = try await ec2.describeSpotPriceHistory(SpotPriceHistoryRequest(
                instanceTypes: [span.type], availabilityZone: span.zone, startTime: span.start, endTime: max(span.end, span.start)))
            result[key] = points.filter { $0.instanceType == span.type && $0.availabilityZone == span.zone }
        }
        return result
    }

    /// Prints the report as one JSON object (sorted keys, ISO 8601 dates).
    static func printJSON(_ report: JobReport) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        let text = String(decoding: try encoder.encode(report), as: UTF8.self)
        FileHandle.standardOutput.write(Data((redactedForOutput(text) + "\n").utf8))
    }
}

extension JobReport {
    /// The readable table of `job status`.
    func table() -> String {
        let dates = ISO8601DateFormatter()
        var lines: [String] = []
        func row(_ label: String, _ value: String) { lines.append(label.padding(toLength: 20, withPad: " ", startingAt: 0) + value) }
        row("job", "\(name) (\(store))")
        row("state", state + (reason.map { ": \($0)" } ?? ""))
        row("group", autoScalingGroup + (group.map { " desired \($0.desiredCapacity), min \($0.minSize), max \($0.maxSize), "
                                              + "\($0.instances) instance(s)" + ($0.status.map { ", \($0)" } ?? "") } ?? " (gone)"))
        row("current instance", currentInstance.map { "\($0.instanceId) \($0.instanceType ?? "?") \($0.availabilityZone) \($0.lifecycleState)" } ?? "none")
        row("attempts", "\(attempts)")
        row("interruptions", "\(interruptions)")
        row("global step", globalStep.map(String.init) ?? "-")
        row("epoch", epoch.map(String.init) ?? "-")
        row("newest checkpoint", newestCheckpoint ?? "-")
        if let weightsSHA256 { row("weights sha256", weightsSHA256) }
        row("lost steps", "\(lostStepsTotal)")
        row("elapsed", elapsedSeconds.map(Self.duration) ?? "-")
        func columns(_ values: [String], _ widths: [Int]) -> String {
            zip(values, widths).map { $0.padding(toLength: max($1, $0.count), withPad: " ", startingAt: 0) }
                .joined(separator: " ").trimmingCharacters(in: .whitespaces)
        }
        if !interruptionHistory.isEmpty {
            let widths = [12, 7, 20, 20, 10, 10]
            lines.append("")
            lines.append(columns(["interruption", "attempt", "instance", "time", "step", "lost steps"], widths))
            for (index, item) in interruptionHistory.enumerated() {
                lines.append(columns(["\(index + 1)", "\(item.attempt)", item.instanceId, dates.string(from: item.time),
                                      "\(item.stepAtNotice)", item.lostSteps.map(String.init) ?? "-"], widths))
            }
        }
        let widths = [16, 12, 9, 12, 14, 12]
        lines.append("")
        lines.append(columns(["type", "zone", "seconds", "spot USD", "on-demand USD", "saving USD"], widths))
        for item in usage {
            lines.append(columns([item.instanceType, item.availabilityZone, "\(item.billableSeconds)", Self.money(item.spotCostUSD),
                                  Self.money(item.onDemandCostUSD), Self.money(item.savingUSD)], widths))
        }
        lines.append(columns(["total", "", "\(cost.billableSeconds)", Self.money(cost.spotUSD), Self.money(cost.onDemandUSD),
                              Self.money(cost.savingUSD) + (cost.savingPercent.map { " (\(Self.money($0)) %)" } ?? "")], widths))
        if !cost.onDemandPricesMissing.isEmpty {
            lines.append("no on-demand price for " + cost.onDemandPricesMissing.joined(separator: ", ")
                         + " (give --on-demand-price TYPE=USD_PER_HOUR): their seconds are not in the on-demand total")
        }
        if !cost.spotPricesMissing.isEmpty {
            lines.append("no spot price history for " + cost.spotPricesMissing.joined(separator: ", "))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `1h 02m 03s`.
    static func duration(_ seconds: Int) -> String {
        String(format: "%dh %02dm %02ds", seconds / 3600, seconds / 60 % 60, seconds % 60)
    }

    /// A decimal as text, `-` for nil.
    static func money(_ value: Decimal?) -> String {
        value.map { NSDecimalNumber(decimal: $0).stringValue } ?? "-"
    }
}
