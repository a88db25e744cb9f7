import EC2Spot
import Foundation

/// What `job status` shows (`--json`: this object, snake_case keys): the job's state from
/// its status object and its group, attempts and interruptions as the status object counts
/// them (never from the group's activities: the instance terminated at completion is not an
/// interruption), progress, lost work, and the cost of the attempts' instances.
struct JobReport: Encodable {
    /// The job's name.
    var name: String
    /// `s3://BUCKET/PREFIX`.
    var store: String
    /// The group's name.
    var autoScalingGroup: String
    /// `pending`, `running`, `recovering`, `succeeded` or `failed`.
    var state: String
    /// Why the job failed, or why the last attempt ended.
    var reason: String?
    /// `job run` starts.
    var attempts: Int
    /// Spot notices answered with a checkpoint.
    var interruptions: Int
    /// The instance working on the job now (nil when none is).
    var currentInstance: CurrentInstance?
    /// The group (nil when it no longer exists).
    var group: Group?
    /// The newest global step recorded.
    var globalStep: Int?
    /// Its epoch.
    var epoch: Int?
    /// The newest checkpoint in the store.
    var newestCheckpoint: String?
    /// The final weights' SHA-256 (once succeeded).
    var weightsSHA256: String?
    /// Steps lost over all interruptions and vanished attempts.
    var lostStepsTotal: Int
    /// Every interruption with the steps it lost.
    var interruptionHistory: [JobStatus.Interruption]
    /// Every attempt with its billable seconds.
    var attemptHistory: [Attempt]
    /// When `job up` created the job.
    var createdAt: Date?
    /// When the status object was written.
    var updatedAt: Date
    /// Seconds from creation to the end (to now while it has not ended).
    var elapsedSeconds: Int?
    /// Billable seconds and costs per instance type and zone.
    var usage: [Usage]
    /// The totals.
    var cost: Cost

    /// The instance working on the job.
    struct CurrentInstance: Encodable, Equatable {
        var instanceId: String
        var instanceType: String?
        var availabilityZone: String
        /// The group's lifecycle state (`Pending`, `InService`, …).
        var lifecycleState: String

        enum CodingKeys: String, CodingKey {
            case instanceId = "instance_id", instanceType = "instance_type", availabilityZone = "availability_zone"
            case lifecycleState = "lifecycle_state"
        }

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(instanceId, forKey: .instanceId)
            try container.encode(instanceType, forKey: .instanceType)
            try container.encode(availabilityZone, forKey: .availabilityZone)
            try container.encode(lifecycleState, forKey: .lifecycleState)
        }
    }

    /// The group's sizes.
    struct Group: Encodable, Equatable {
        var minSize: Int
        var maxSize: Int
        var desiredCapacity: Int
        var instances: Int
        /// `Delete in progress` while `job down` deletes it.
        var status: String?

        enum CodingKeys: String, CodingKey {
            case minSize = "min_size", maxSize = "max_size", desiredCapacity = "desired_capacity", instances, status
        }
    }

    /// One attempt and what it billed.
    struct Attempt: Encodable {
        var number: Int
        var instanceId: String
        var instanceType: String
        var availabilityZone: String
        var startedAt: Date
        var endedAt: Date?
        var exitStatus: Int32?
        var startStep: Int?
        var lastStep: Int?
        var lostSteps: Int?
        /// Billable seconds counted for it (from `job run`'s start to its end; see ``JobReport``).
        var billableSeconds: Int

        enum CodingKeys: String, CodingKey {
            case number, instanceId = "instance_id", instanceType = "instance_type"
            case availabilityZone = "availability_zone", startedAt = "started_at", endedAt = "ended_at"
            case exitStatus = "exit_status", startStep = "start_step", lastStep = "last_step", lostSteps = "lost_steps"
            case billableSeconds = "billable_seconds"
        }
    }

    /// One instance type in one zone.
    struct Usage: Encodable, Equatable {
        var instanceType: String
        var availabilityZone: String
        var billableSeconds: Int
        /// The spot cost from the price history (nil: no price points).
        var spotCostUSD: Decimal?
        /// `--on-demand-price` of the type (nil: not given).
        var onDemandPricePerHourUSD: Decimal?
        /// The on-demand cost of the same seconds.
        var onDemandCostUSD: Decimal?
        /// On-demand minus spot.
        var savingUSD: Decimal?

        enum CodingKeys: String, CodingKey {
            case instanceType = "instance_type", availabilityZone = "availability_zone", billableSeconds = "billable_seconds"
            case spotCostUSD = "spot_cost_usd", onDemandPricePerHourUSD = "on_demand_price_per_hour_usd"
            case onDemandCostUSD = "on_demand_cost_usd", savingUSD = "saving_usd"
        }

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(instanceType, forKey: .instanceType)
            try container.encode(availabilityZone, forKey: .availabilityZone)
            try container.encode(billableSeconds, forKey: .billableSeconds)
            try container.encode(spotCostUSD, forKey: .spotCostUSD)
            try container.encode(onDemandPricePerHourUSD, forKey: .onDemandPricePerHourUSD)
            try container.encode(onDemandCostUSD, forKey: .onDemandCostUSD)
            try container.encode(savingUSD, forKey: .savingUSD)
        }
    }

    /// The totals. The on-demand cost and the saving cover only the usage rows with both
    /// prices; the types without an on-demand price and the type/zone pairs without spot
    /// prices are listed.
    struct Cost: Encodable, Equatable {
        var billableSeconds: Int
        var spotUSD: Decimal
        var onDemandUSD: Decimal?
        var savingUSD: Decimal?
        var savingPercent: Decimal?
        var onDemandPricesMissing: [String]
        var spotPricesMissing: [String]

        enum CodingKeys: String, CodingKey {
            case billableSeconds = "billable_seconds", spotUSD = "spot_usd", onDemandUSD = "on_demand_usd"
            case savingUSD = "saving_usd", savingPercent = "saving_percent"
            case onDemandPricesMissing = "on_demand_prices_missing", spotPricesMissing = "spot_prices_missing"
        }

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(billableSeconds, forKey: .billableSeconds)
            try container.encode(spotUSD, forKey: .spotUSD)
            try container.encode(onDemandUSD, forKey: .onDemandUSD)
            try container.encode(savingUSD, forKey: .savingUSD)
            try container.encode(savingPercent, forKey: .savingPercent)
            try container.encode(onDemandPricesMissing, forKey: .onDemandPricesMissing)
            try container.encode(spotPricesMissing, forKey: .spotPricesMissing)
        }
    }

    enum CodingKeys: String, CodingKey {
        case name, store, autoScalingGroup = "auto_scaling_group", state, reason, attempts, interruptions
        case currentInstance = "current_instance", group, globalStep = "global_step", epoch
        case newestCheckpoint = "newest_checkpoint", weightsSHA256 = "weights_sha256", lostStepsTotal = "lost_steps_total"
        case interruptionHistory = "interruption_history", attemptHistory = "attempt_history", createdAt = "created_at"
        case updatedAt = "updated_at", elapsedSeconds = "elapsed_seconds", usage, cost
    }

    /// Every key, with nulls written out (so that scripts see the same keys in every state).
    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(store, forKey: .store)
        try container.encode(autoScalingGroup, forKey: .autoScalingGroup)
        try container.encode(state, forKey: .state)
        try container.encode(reason, forKey: .reason)
        try container.encode(attempts, forKey: .attempts)
        try container.encode(interruptions, forKey: .interruptions)
        try container.encode(currentInstance, forKey: .currentInstance)
        try container.encode(group, forKey: .group)
        try container.encode(globalStep, forKey: .globalStep)
        try container.encode(epoch, forKey: .epoch)
        try container.encode(newestCheckpoint, forKey: .newestCheckpoint)
        try container.encode(weightsSHA256, forKey: .weightsSHA256)
        try container.encode(lostStepsTotal, forKey: .lostStepsTotal)
        try container.encode(interruptionHistory, forKey: .interruptionHistory)
        try container.encode(attemptHistory, forKey: .attemptHistory)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(updatedAt, forKey: .updatedAt)
        try container.encode(elapsedSeconds, forKey: .elapsedSeconds)
        try container.encode(usage, forKey: .usage)
        try container.encode(cost, forKey: .cost)
    }
}

extension JobReport {
    /// The state `job status` shows: the status object's, except that a `running` attempt
    /// whose instance has left the group (reclaimed without a word, or terminated) is
    /// `recovering`, and a job without a status object is `pending`.
    static func state(_ status: JobStatus?, group: AutoScalingGroup?) -> JobStatus.State {
        guard let status else { return .pending }
        if status.state == .running, let group, let attempt = status.attemptHistory.last, attempt.endedAt == nil,
           !group.instances.contains(where: { $0.instanceId == attempt.instanceId && Self.isLive($0) }) {
            return .recovering
        }
        return status.state
    }

    /// Whether a group instance is launching or serving (not leaving).
    static func isLive(_ instance: AutoScalingInstance) -> Bool {
        !(instance.lifecycleState.hasPrefix("Terminat") || instance.lifecycleState.hasPrefix("Detach")
          || instance.lifecycleState == "Standby")
    }

    /// The interval each attempt billed: from `job run`'s start to its end; an attempt that
    /// did not record its end ends at the next attempt's start, or, for the last one, now
    /// while its instance is in the group and else at the status object's last write.
    static func intervals(_ status: JobStatus, group: AutoScalingGroup?, now: Date) -> [(start: Date, end: Date)] {
        let history = status.attemptHistory
        return history.indices.map { index in
            let attempt = history[index]
            if let end = attempt.endedAt { return (attempt.startedAt, end) }
            if index + 1 < history.count { return (attempt.startedAt, history[index + 1].startedAt) }
            let live = group?.instances.contains { $0.instanceId == attempt.instanceId && isLive($0) } ?? false
            return (attempt.startedAt, live ? now : max(status.updatedAt, attempt.startedAt))
        }
    }

    /// Builds the report.
    /// - Parameters:
    ///   - name: The job's name.
    ///   - store: The store's URL.
    ///   - groupName: The group's name.
    ///   - spec: The spec (nil when the store has none).
    ///   - status: The status (nil when the store has none).
    ///   - group: The group (nil when it does not exist).
    ///   - spotPrices: Price points per `TYPE ZONE` key (``usageKey(_:_:)``); a missing key
    ///     means no points.
    ///   - onDemandPrices: USD/hour per type.
    ///   - now: The time.
    /// - Returns: The report.
    static func make(name: String, store: String, groupName: String, spec: JobSpec?, status: JobStatus?,
                     group: AutoScalingGroup?, spotPrices: [String: [SpotPrice]], onDemandPrices: [String: Decimal],
                     now: Date) -> JobReport {
        let record = status ?? JobStatus.pending(at: spec?.createdAt ?? now)
        let state = Self.state(status, group: group)
        let intervals = Self.intervals(record, group: group, now: now)
        var attempts: [Attempt] = []
        var usageOrder: [String] = []
        var usageRows: [String: Usage] = [:]
        var spotMissing: [String] = []
        for (attempt, interval) in zip(record.attemptHistory, intervals) {
            let seconds = JobCost.billableSeconds(from: interval.start, to: interval.end)
            attempts.append(Attempt(number: attempt.number, instanceId: attempt.instanceId, instanceType: attempt.instanceType,
                                    availabilityZone: attempt.availabilityZone, startedAt: attempt.startedAt,
                                    endedAt: attempt.endedAt, exitStatus: attempt.exitStatus, startStep: attempt.startStep,
                                    lastStep: attempt.lastStep, lostSteps: attempt.lostSteps, billableSeconds: seconds))
            let key = usageKey(attempt.instanceType, attempt.availabilityZone)
            if usageRows[key] == nil {
                usageOrder.append(key)
                usageRows[key] = Usage(instanceType: attempt.instanceType, availabilityZone: attempt.availabilityZone,
                                       billableSeconds: 0, spotCostUSD: 0)
            }
            usageRows[key]?.billableSeconds += seconds
            if let cost = JobCost.spotCost(from: interval.start, seconds: seconds, points: spotPrices[key] ?? []) {
                usageRows[key]?.spotCostUSD? += cost
            } else {
                usageRows[key]?.spotCostUSD = nil
                if !spotMissing.contains(key) { spotMissing.append(key) }
            }
        }
        var usage: [Usage] = []
        var onDemandMissing: [String] = []
        var total = Cost(billableSeconds: 0, spotUSD: 0, onDemandUSD: nil, savingUSD: nil, savingPercent: nil,
                         onDemandPricesMissing: [], spotPricesMissing: spotMissing)
        var comparedSpot = Decimal(0)
        for key in usageOrder {
            guard var row = usageRows[key] else { continue }
            total.billableSeconds += row.billableSeconds
            if let spot = row.spotCostUSD { total.spotUSD += spot }
            if let price = onDemandPrices[row.instanceType] {
                let onDemand = JobCost.cost(pricePerHour: price, seconds: row.billableSeconds)
                row.onDemandPricePerHourUSD = price
                row.onDemandCostUSD = JobCost.rounded(onDemand)
                if let spot = row.spotCostUSD {
                    row.savingUSD = JobCost.rounded(onDemand - spot)
                    total.onDemandUSD = (total.onDemandUSD ?? 0) + onDemand
                    comparedSpot += spot
                }
            } else if !onDemandMissing.contains(row.instanceType) {
                onDemandMissing.append(row.instanceType)
            }
            row.spotCostUSD = row.spotCostUSD.map { JobCost.rounded($0) }
            usage.append(row)
        }
        if let onDemand = total.onDemandUSD {
            total.savingUSD = JobCost.rounded(onDemand - comparedSpot)
            if onDemand > 0 { total.savingPercent = JobCost.rounded((onDemand - comparedSpot) / onDemand * 100, scale: 1) }
            total.onDemandUSD = JobCost.rounded(onDemand)
        }
        total.spotUSD = JobCost.rounded(total.spotUSD)
        total.onDemandPricesMissing = onDemandMissing
        let lost = record.interruptions.reduce(0) { $0 + ($1.lostSteps ?? 0) }
            + record.attemptHistory.reduce(0) { $0 + ($1.lostSteps ?? 0) }
        let start = spec?.createdAt ?? record.attemptHistory.first?.startedAt
        let end = record.isFinal ? record.updatedAt : now
        return JobReport(
            name: name, store: store, autoScalingGroup: groupName, state: state.rawValue, reason: record.reason,
            attempts: record.attempts, interruptions: record.interruptions.count,
            currentInstance: currentInstance(record, group: group),
            group: group.map { Group(minSize: $0.minSize, maxSize: $0.maxSize, desiredCapacity: $0.desiredCapacity,
                                     instances: $0.instances.count, status: $0.status) },
            globalStep: record.globalStep, epoch: record.epoch, newestCheckpoint: record.newestCheckpoint,
            weightsSHA256: record.state == .succeeded ? record.weightsSHA256 : nil, lostStepsTotal: lost,
            interruptionHistory: record.interruptions, attemptHistory: attempts, createdAt: spec?.createdAt,
            updatedAt: record.updatedAt,
            elapsedSeconds: start.map { max(0, Int(end.timeIntervalSince($0).rounded(.down))) },
            usage: usage, cost: total)
    }

    /// `TYPE ZONE`, the key of a usage row and of its price points.
    static func usageKey(_ type: String, _ zone: String) -> String { type + " " + zone }

    /// The group's live instance, with the type the status recorded for it when it is the
    /// running attempt's (the group's view may leave the type empty).
    static func currentInstance(_ status: JobStatus, group: AutoScalingGroup?) -> CurrentInstance? {
        guard let instance = group?.instances.first(where: isLive) else { return nil }
        let attempt = status.attemptHistory.last { $0.instanceId == instance.instanceId }
        let type = instance.instanceType.isEmpty ? attempt?.instanceType : instance.instanceType
        return CurrentInstance(instanceId: instance.instanceId, instanceType: type,
                               availabilityZone: instance.availabilityZone, lifecycleState: instance.lifecycleState)
    }
}
