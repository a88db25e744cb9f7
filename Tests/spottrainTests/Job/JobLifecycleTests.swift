import Foundation
import Testing
@testable import SpotTrainCLI

/// The rules of `job run` (``JobLifecycle``) as pure functions: attempts, limits, outcomes,
/// lost work.
struct JobLifecycleTests {
    static let created = Date(timeIntervalSince1970: 1_800_000_000)
    static let instance = JobLifecycle.Instance(id: "i-0abc", type: "c7i.large", availabilityZone: "us-east-1a")

    static func spec(maxInterruptions: Int? = nil, maxHours: Double? = nil) -> JobSpec {
        JobSpec(formatVersion: 1, name: "mnist", autoScalingGroup: "spottrain-mnist", launchTemplateName: "spottrain-mnist",
                region: "us-east-1", trainArguments: ["--data", "s3://bucket/mnist", "--epochs", "2"],
                maxInterruptions: maxInterruptions, maxHours: maxHours, createdAt: created)
    }

    /// Starts attempt 1 and returns its status.
    static func running(_ spec: JobSpec, at now: Date = created.addingTimeInterval(60)) throws -> JobStatus {
        guard case .train(let status, let attempt) = JobLifecycle.start(.pending(at: created), spec: spec, instance: instance, now: now) else {
            Issue.record("attempt 1 did not train")
            throw CancellationError()
        }
        #expect(attempt == 1)
        return status
    }

    static func result(_ exit: Int32, step: Int = 40, reason: String? = nil) -> JobLifecycle.RunResult {
        JobLifecycle.RunResult(exitStatus: exit, globalStep: step, epochsCompleted: 1, weightsSHA256: exit == 0 ? "ab12" : nil,
                               storedCheckpoint: "s3://bucket/job/checkpoints/ckpt-000000000040.spt",
                               interruptedAtStep: exit == 75 ? step : nil, reason: reason)
    }

    @Test func startCountsTheAttemptAndRecordsTheInstanceAsRunning() throws {
        let status = try Self.running(Self.spec())
        #expect(status.state == .running)
        #expect(status.attempts == 1)
        #expect(status.attemptHistory.count == 1)
        #expect(status.attemptHistory[0].instanceId == "i-0abc")
        #expect(status.attemptHistory[0].instanceType == "c7i.large")
        #expect(status.attemptHistory[0].availabilityZone == "us-east-1a")
        #expect(status.attemptHistory[0].endedAt == nil)
    }

    @Test func maxHoursSinceCreationEndsTheJobAsFailedBeforeTraining() {
        let spec = Self.spec(maxHours: 2)
        let late = Self.created.addingTimeInterval(2 * 3600 + 1)
        guard case .stop(let status, let exit) = JobLifecycle.start(.pending(at: Self.created), spec: spec,
                                                                      instance: Self.instance, now: late) else {
            Issue.record("trained past max_hours")
            return
        }
        #expect(exit == 78)
        #expect(status.state == .failed)
        #expect(status.reason?.contains("max_hours") == true)
        // An hour earlier it trains.
        if case .train = JobLifecycle.start(.pending(at: Self.created), spec: spec, instance: Self.instance,
                                            now: Self.created.addingTimeInterval(3600)) {} else {
            Issue.record("refused before max_hours")
        }
    }

    @Test func anEndedJobIsNotTrainedAgain() throws {
        var status = try Self.running(Self.spec())
        status.state = .succeeded
        guard case .alreadyEnded(let same) = JobLifecycle.start(status, spec: Self.spec(), instance: Self.instance, now: Date()) else {
            Issue.record("an ended job trained again")
            return
        }
        #expect(same == status)
    }

    @Test func successRecordsTheWeightsAndStopsTheGroup() throws {
        let decision = JobLifecycle.end(try Self.running(Self.spec()), spec: Self.spec(), attempt: 1, result: Self.result(0), now: Date())
        #expect(decision.exitStatus == 0)
        #expect(decision.stopGroup)
        #expect(decision.status.state == .succeeded)
        #expect(decision.status.weightsSHA256 == "ab12")
        #expect(decision.status.globalStep == 40)
        #expect(decision.status.attemptHistory[0].exitStatus == 0)
        #expect(decision.status.interruptions.isEmpty)
    }

    @Test func permanentErrorsFailTheJobWithTheReasonAndStopTheGroup() throws {
        for exit: Int32 in [64, 78] {
            let decision = JobLifecycle.end(try Self.running(Self.spec()), spec: Self.spec(), attempt: 1,
                                            result: Self.result(exit, reason: "bad data"), now: Date())
            #expect(decision.exitStatus == exit)
            #expect(decision.stopGroup)
            #expect(decision.status.state == .failed)
            #expect(decision.status.reason == "bad data")
        }
    }

    @Test func anInterruptionIsRecordedAndTheJobRecovers() throws {
        let decision = JobLifecycle.end(try Self.running(Self.spec(maxInterruptions: 3)), spec: Self.spec(maxInterruptions: 3),
                                        attempt: 1, result: Self.result(75, step: 33), now: Date())
        #expect(decision.exitStatus == 75)
        #expect(!decision.stopGroup)
        #expect(decision.status.state == .recovering)
        #expect(decision.status.interruptions.count == 1)
        #expect(decision.status.interruptions[0].stepAtNotice == 33)
        #expect(decision.status.interruptions[0].checkpointStep == 33)
        #expect(decision.status.interruptions[0].instanceId == "i-0abc")
    }

    @Test func theNthInterruptionWithMaxInterruptionsNFailsTheJob() throws {
        let spec = Self.spec(maxInterruptions: 2)
        var status = try Self.running(spec)
        status = JobLifecycle.end(status, spec: spec, attempt: 1, result: Self.result(75, step: 10), now: Date()).status
        guard case .train(let second, let attempt) = JobLifecycle.start(status, spec: spec, instance: Self.instance, now: Date()) else {
            Issue.record("attempt 2 did not train")
            return
        }
        #expect(attempt == 2)
        let decision = JobLifecycle.end(second, spec: spec, attempt: 2, result: Self.result(75, step: 20), now: Date())
        #expect(decision.exitStatus == 75)
        #expect(decision.stopGroup)
        #expect(decision.status.state == .failed)
        #expect(decision.status.reason?.contains("max_interruptions 2") == true)
        #expect(decision.status.interruptions.count == 2)
    }

    @Test func aTransientErrorRecoversWithoutCountingAnInterruption() throws {
        let decision = JobLifecycle.end(try Self.running(Self.spec()), spec: Self.spec(), attempt: 1,
                                        result: Self.result(1, reason: "network"), now: Date())
        #expect(decision.exitStatus == 1)
        #expect(!decision.stopGroup)
        #expect(decision.status.state == .recovering)
        #expect(decision.status.interruptions.isEmpty)
        #expect(decision.status.reason == "network")
    }

    @Test func theNextAttemptFillsInTheWorkThePreviousOneLost() throws {
        let spec = Self.spec()
        // Attempt 1 was interrupted at step 33 with its checkpoint; attempt 2 resumed from 30
        // (the store's newest valid checkpoint): 3 steps lost.
        var status = JobLifecycle.end(try Self.running(spec), spec: spec, attempt: 1, result: Self.result(75, step: 33), now: Date()).status
        guard case .train(var second, _) = JobLifecycle.start(status, spec: spec, instance: Self.instance, now: Date()) else {
            Issue.record("attempt 2 did not train")
            return
        }
        JobLifecycle.resumed(&second, attempt: 2, fromStep: 30, now: Date())
        #expect(second.interruptions[0].lostSteps == 3)
        #expect(second.attemptHistory[1].startStep == 30)
        // Attempt 2 vanished after a checkpoint at step 50 reached the store; attempt 3
        // resumed from 50: nothing lost, recorded on attempt 2.
        JobLifecycle.checkpointStored(&second, attempt: 2, step: 50, location: "s3://b/j/checkpoints/ckpt-000000000050.spt",
                                      stepsPerEpoch: 20, now: Date())
        #expect(second.epoch == 2)
        #expect(second.newestCheckpoint?.hasSuffix("ckpt-000000000050.spt") == true)
        status = second
        guard case .train(var third, let attempt) = JobLifecycle.start(status, spec: spec, instance: Self.instance, now: Date()) else {
            Issue.record("attempt 3 did not train")
            return
        }
        #expect(attempt == 3)
        JobLifecycle.resumed(&third, attempt: 3, fromStep: 45, now: Date())
        #expect(third.attemptHistory[1].lostSteps == 5)
        #expect(third.attemptHistory[1].endedAt == nil, "an attempt whose instance vanished has no end")
    }

    @Test func specAndStatusUseSnakeCaseKeysAndRoundTrip() throws {
        let spec = Self.spec(maxInterruptions: 4, maxHours: 12)
        let specJSON = String(decoding: try JobJSON.encoder().encode(spec), as: UTF8.self)
        for key in ["format_version", "auto_scaling_group", "launch_template_name", "train_arguments", "max_interruptions",
                    "max_hours", "created_at"] {
            #expect(specJSON.contains("\"\(key)\""), "\(key) missing from \(specJSON)")
        }
        #expect(try JobJSON.decoder().decode(JobSpec.self, from: Data(specJSON.utf8)) == spec)
        let status = JobLifecycle.end(try Self.running(spec), spec: spec, attempt: 1, result: Self.result(75), now: Self.created).status
        let statusJSON = String(decoding: try JobJSON.encoder().encode(status), as: UTF8.self)
        for key in ["attempt_history", "instance_id", "instance_type", "availability_zone", "started_at", "ended_at",
                    "exit_status", "step_at_notice", "checkpoint_step", "lost_steps", "global_step", "newest_checkpoint",
                    "updated_at"] {
            #expect(statusJSON.contains("\"\(key)\""), "\(key) missing from \(statusJSON)")
        }
        #expect(try JobJSON.decoder().decode(JobStatus.self, from: Data(statusJSON.utf8)) == status)
    }

    @Test func aSpecOfAnotherFormatVersionIsRefused() {
        var spec = Self.spec()
        spec.formatVersion = 2
        #expect(throws: JobError.self) { try spec.validate(location: "s3://b/j/job.json") }
    }
}
