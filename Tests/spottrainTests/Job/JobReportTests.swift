import EC2Spot
import Foundation
import Testing
@testable import SpotTrainCLI

/// `job status`'s rules without AWS: billable seconds, the spot price integrated over an
/// interval, the state from the status object and the group, counts from the status object
/// only, and on-demand costs only for the types with a price.
struct JobReportTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    static func price(_ usd: String, at offset: TimeInterval, type: String = "c7i.large", zone: String = "us-east-1a") -> SpotPrice {
        SpotPrice(instanceType: type, availabilityZone: zone, productDescription: "Linux/UNIX",
                  pricePerHour: Decimal(string: usd)!, timestamp: t0.addingTimeInterval(offset))
    }

    static func attempt(_ number: Int, _ id: String, start: TimeInterval, end: TimeInterval?, exit: Int32?,
                        type: String = "c7i.large", zone: String = "us-east-1a") -> JobStatus.Attempt {
        JobStatus.Attempt(number: number, instanceId: id, instanceType: type, availabilityZone: zone,
                          startedAt: t0.addingTimeInterval(start), endedAt: end.map { t0.addingTimeInterval($0) },
                          exitStatus: exit, startStep: 0, lastStep: 10, lostSteps: nil)
    }

    static func group(instances: [AutoScalingInstance], desired: Int = 1) -> AutoScalingGroup {
        AutoScalingGroup(autoScalingGroupName: "spottrain-j", minSize: 0, maxSize: 1, desiredCapacity: desired,
                         instances: instances)
    }

    @Test func billableSecondsRoundUpWithASixtySecondMinimum() {
        #expect(JobCost.billableSeconds(from: Self.t0, to: Self.t0.addingTimeInterval(12.2)) == 60)
        #expect(JobCost.billableSeconds(from: Self.t0, to: Self.t0.addingTimeInterval(90.1)) == 91)
        #expect(JobCost.billableSeconds(from: Self.t0, to: Self.t0) == 0)
        #expect(JobCost.billableSeconds(from: Self.t0, to: Self.t0.addingTimeInterval(-5)) == 0)
    }

    @Test func spotCostIntegratesThePriceInEffectAtEachMoment() throws {
        // 0.036 $/h from before the start, 0.072 $/h from 1800 s on: one hour costs 0.018 + 0.036.
        let points = [Self.price("0.072", at: 1800), Self.price("0.036", at: -600), Self.price("0.5", at: 7200)]
        let cost = try #require(JobCost.spotCost(from: Self.t0, seconds: 3600, points: points))
        #expect(cost == Decimal(string: "0.054"))
        #expect(JobCost.spotCost(from: Self.t0, seconds: 3600, points: []) == nil)
        // A history that starts late: its first price covers the time before it.
        #expect(JobCost.spotCost(from: Self.t0, seconds: 3600, points: [Self.price("0.036", at: 600)]) == Decimal(string: "0.036"))
    }

    @Test func onDemandPriceOptionIsParsedAndRefusedWhenMalformed() throws {
        let (type, price) = try JobCost.parseOnDemandPrice("c7i.large=0.0893")
        #expect(type == "c7i.large" && price == Decimal(string: "0.0893"))
        for bad in ["c7i.large", "=0.1", "c7i.large=", "c7i.large=-1", "c7i.large=1e3", "c7i.large=abc"] {
            #expect(throws: JobError.self) { _ = try JobCost.parseOnDemandPrice(bad) }
        }
    }

    @Test func countsComeFromTheStatusObjectAndTheFinalInstanceIsNoInterruption() {
        var status = JobStatus.pending(at: Self.t0)
        status.state = .succeeded
        status.attempts = 2
        status.attemptHistory = [Self.attempt(1, "i-1", start: 0, end: 100, exit: 75),
                                 Self.attempt(2, "i-2", start: 200, end: 400, exit: 0)]
        status.interruptions = [JobStatus.Interruption(attempt: 1, instanceId: "i-1", time: Self.t0.addingTimeInterval(100),
                                                       stepAtNotice: 10, checkpointStep: 10, lostSteps: 0)]
        status.weightsSHA256 = "abc"
        status.updatedAt = Self.t0.addingTimeInterval(400)
        // The group has shrunk: the final instance is terminating, which is not an interruption.
        let group = Self.group(instances: [AutoScalingInstance(instanceId: "i-2", instanceType: "", availabilityZone: "us-east-1a",
                                                               lifecycleState: "Terminating", healthStatus: "Healthy")], desired: 0)
        let report = JobReport.make(name: "j", store: "s3://b/p", groupName: "spottrain-j", spec: nil, status: status,
                                    group: group, spotPrices: [:], onDemandPrices: [:], now: Self.t0.addingTimeInterval(9999))
        #expect(report.state == "succeeded")
        #expect(report.interruptions == 1)
        #expect(report.attempts == 2)
        #expect(report.weightsSHA256 == "abc")
        #expect(report.currentInstance == nil)
        #expect(report.attemptHistory.map(\.billableSeconds) == [100, 200])
        #expect(report.elapsedSeconds == 400)
    }

    @Test func aRunningAttemptWhoseInstanceLeftTheGroupIsRecovering() {
        var status = JobStatus.pending(at: Self.t0)
        status.state = .running
        status.attempts = 1
        status.attemptHistory = [Self.attempt(1, "i-1", start: 0, end: nil, exit: nil)]
        let serving = AutoScalingInstance(instanceId: "i-1", instanceType: "", availabilityZone: "us-east-1a",
                                          lifecycleState: "InService", healthStatus: "Healthy")
        let replacement = AutoScalingInstance(instanceId: "i-9", instanceType: "", availabilityZone: "us-east-1b",
                                              lifecycleState: "Pending", healthStatus: "Healthy")
        #expect(JobReport.state(status, group: Self.group(instances: [serving])) == .running)
        #expect(JobReport.state(status, group: Self.group(instances: [replacement])) == .recovering)
        #expect(JobReport.state(nil, group: Self.group(instances: [serving])) == .pending)
        let now = Self.t0.addingTimeInterval(500)
        #expect(JobReport.intervals(status, group: Self.group(instances: [serving]), now: now).first?.end == now)
    }

    @Test func onDemandCostAndSavingCoverOnlyTypesWithAPriceAndNameTheOthers() throws {
        var status = JobStatus.pending(at: Self.t0)
        status.state = .recovering
        status.attempts = 2
        status.attemptHistory = [Self.attempt(1, "i-1", start: 0, end: 3600, exit: 75),
                                 Self.attempt(2, "i-2", start: 3600, end: 7200, exit: 1, type: "m7i.large", zone: "us-east-1b")]
        let prices = [JobReport.usageKey("c7i.large", "us-east-1a"): [Self.price("0.03", at: -10)],
                      JobReport.usageKey("m7i.large", "us-east-1b"): [Self.price("0.04", at: -10, type: "m7i.large", zone: "us-east-1b")]]
        let report = JobReport.make(name: "j", store: "s3://b/p", groupName: "spottrain-j", spec: nil, status: status, group: nil,
                                    spotPrices: prices, onDemandPrices: ["c7i.large": Decimal(string: "0.0893")!],
                                    now: Self.t0.addingTimeInterval(7200))
        #expect(report.usage.count == 2)
        #expect(report.cost.spotUSD == Decimal(string: "0.07"))
        #expect(report.cost.onDemandUSD == Decimal(string: "0.0893"))
        #expect(report.cost.savingUSD == Decimal(string: "0.0593"))
        #expect(report.cost.onDemandPricesMissing == ["m7i.large"])
        #expect(report.usage[1].onDemandCostUSD == nil && report.usage[1].savingUSD == nil)
        #expect(report.table().contains("no on-demand price for m7i.large"))
    }

    @Test func upRefusesAnotherSpecNamingTheFields() {
        let spec = JobSpec(formatVersion: 1, name: "j", autoScalingGroup: "spottrain-j", launchTemplateName: "spottrain-j",
                           region: "us-east-1", trainArguments: ["--epochs", "2"], maxInterruptions: nil, maxHours: nil,
                           createdAt: Self.t0)
        var other = spec
        other.trainArguments = ["--epochs", "3"]
        other.maxInterruptions = 2
        let differences = JobUp.differences(spec, other)
        #expect(differences.count == 2)
        #expect(differences.contains { $0.hasPrefix("train_arguments") })
        #expect(differences.contains { $0.hasPrefix("max_interruptions") })
        #expect(JobUp.differences(spec, spec).isEmpty)
    }
}
