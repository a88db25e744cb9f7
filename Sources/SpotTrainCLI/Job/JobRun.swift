import ArgumentParser
import EC2Spot
import Foundation
import SpotTrain
import SpotTrainS3

/// One `job run`: reads the spec and the instance, records the attempt, drives a
/// ``TrainingSession`` step by step (recording the resume step, and each checkpoint that
/// reaches the store, off the training thread), records the end, and stops the group when
/// the job ended for good. The rules are ``JobLifecycle``'s; this type does the I/O.
final class JobRun {
    /// The job's store, `s3://BUCKET/PREFIX`.
    let storeURL: String
    /// `--work-dir`, if given.
    let workDirOption: String?
    /// Builds the control of the job's group from the resolved AWS settings and the spec's
    /// region.
    let makeGroupControl: @Sendable (AWSClientSettings, String) throws -> any JobGroupControl

    /// Creates a run.
    /// - Parameters:
    ///   - store: `s3://BUCKET/PREFIX`.
    ///   - workDir: `--work-dir`.
    ///   - makeGroupControl: The group control for the settings and region.
    init(store: String, workDir: String?,
         makeGroupControl: @escaping @Sendable (AWSClientSettings, String) throws -> any JobGroupControl) {
        storeURL = store
        workDirOption = workDir
        self.makeGroupControl = makeGroupControl
    }

    /// Everything `job run` reads before training.
    private struct Context: Sendable {
        var store: JobStore
        var spec: JobSpec
        var instance: JobLifecycle.Instance
        var group: any JobGroupControl
    }

    /// Runs the attempt.
    /// - Returns: The exit status (see ``JobRunCommand``).
    /// - Throws: ``JobError`` and the errors of reading the store or IMDS before training
    ///   (nothing is recorded then: the status cannot be reached or the instance is unknown).
    func run() throws -> Int32 {
        let (bucket, prefix) = try S3CheckpointStore.parse(storeURL)
        let thread = CheckpointStoreThread(name: "spottrain.job")
        defer { thread.shutdown() }
        let variables = ProcessInfo.processInfo.environment
        let makeGroupControl = self.makeGroupControl
        let context = try thread.run { () async throws -> Context in
            let imds = try InstanceMetadataClient(environment: variables)
            let transport = AsyncHTTPClientTransport.aws(environment: variables)
            let settings = try await AWSClientSettings.resolve(variables: variables, profile: nil, region: nil,
                                                              imds: imds, transport: transport)
            let store = JobStore(client: try settings.s3Client(), bucket: bucket, prefix: prefix)
            let spec = try await store.readSpec()
            let instance = try await Self.instance(imds)
            return Context(store: store, spec: spec, instance: instance, group: try makeGroupControl(settings, spec.region))
        }
        let store = context.store
        let spec = context.spec
        let status = try thread.run { try await store.readStatus() } ?? JobStatus.pending(at: Date())
        printNotice("job \(spec.name): \(store.location), instance \(context.instance.id) (\(context.instance.type), "
                    + "\(context.instance.availabilityZone)), state \(status.state.rawValue), \(status.attempts) attempt(s) so far")
        do {
            try spec.validate(location: store.location + "/" + JobSpec.key)
        } catch {
            // Every instance would fail the same way: end the job rather than boot forever.
            var failed = status
            failed.state = .failed
            failed.reason = String(describing: error)
            failed.updatedAt = Date()
            let record = failed
            try thread.run { try await store.write(record) }
            printError("job \(spec.name) failed: \(error)")
            return try stopGroup(context, thread: thread, exitStatus: ExitStatus.configuration)
        }
        switch JobLifecycle.start(status, spec: spec, instance: context.instance, now: Date()) {
        case .alreadyEnded(let ended):
            printNotice("job \(spec.name) already \(ended.state.rawValue); stopping the group \(spec.autoScalingGroup)")
            return try stopGroup(context, thread: thread, exitStatus: ExitStatus.success)
        case .stop(let stopped, let exitStatus):
            try thread.run { try await store.write(stopped) }
            printError("job \(spec.name) failed: \(stopped.reason ?? "a limit was reached")")
            return try stopGroup(context, thread: thread, exitStatus: exitStatus)
        case .train(let running, let attempt):
            try thread.run { try await store.write(running) }
            printNotice("job \(spec.name): attempt \(attempt)")
            return try train(context, status: running, attempt: attempt, thread: thread)
        }
    }

    /// Trains, records the end, and stops the group when the job ended for good.
    private func train(_ context: Context, status: JobStatus, attempt: Int, thread: CheckpointStoreThread) throws -> Int32 {
        let store = context.store
        let workDir = workDirOption ?? Self.defaultWorkDir(store)
        let recorder = JobStatusRecorder(status: status, store: store, attempt: attempt)
        var ending: TrainingSession.Ending
        do {
            try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
            let options = try JobTrainArguments.options(context.spec.trainArguments, store: storeURL, workDir: workDir)
            ending = try drive(TrainingSession(options: options), recorder: recorder, thread: thread)
        } catch {
            ending = Self.ending(for: error)
        }
        recorder.stop()
        let result = JobLifecycle.RunResult(
            exitStatus: ending.status, globalStep: ending.summary?.globalStep, epochsCompleted: ending.summary?.epochsCompleted,
            weightsSHA256: ending.summary?.weightsSHA256, storedCheckpoint: ending.summary?.checkpointUploaded,
            interruptedAtStep: ending.summary?.interruption?.step, reason: ending.reason)
        let decision = JobLifecycle.end(recorder.status, spec: context.spec, attempt: attempt, result: result, now: Date())
        try thread.run { try await store.write(decision.status) }
        printNotice("job \(context.spec.name): attempt \(attempt) ended with status \(ending.status); job "
                    + decision.status.state.rawValue + (decision.status.reason.map { ": \($0)" } ?? ""))
        guard decision.stopGroup else { return decision.exitStatus }
        return try stopGroup(context, thread: thread, exitStatus: decision.exitStatus)
    }

    /// Takes the session's steps, recording the resume step before training and following
    /// the uploads while it trains.
    private func drive(_ session: TrainingSession, recorder: JobStatusRecorder,
                       thread: CheckpointStoreThread) throws -> TrainingSession.Ending {
        defer { session.release() }
        try session.prepare()
        try session.loadData()
        session.buildTrainer()
        try session.openCheckpoints()
        let stepsPerEpoch = session.trainSet.map { ($0.count + session.runBatchSize - 1) / session.runBatchSize }
        recorder.resumed(fromStep: session.resumed?.progress.globalStep ?? 0, stepsPerEpoch: stepsPerEpoch, thread: thread)
        if let mirror = session.mirror { recorder.follow(mirror) }
        let context = try session.fit()
        return try session.finish(context)
    }

    /// Sets the group's desired capacity and minimum to 0.
    /// - Returns: `exitStatus`, or 1 when the group could not be stopped (the next instance
    ///   sees the ended job and tries again).
    private func stopGroup(_ context: Context, thread: CheckpointStoreThread, exitStatus: Int32) throws -> Int32 {
        let group = context.group
        let name = context.spec.autoScalingGroup
        do {
            try thread.run { try await group.setDesiredCapacity(0, group: name) }
            printNotice("group \(name): desired capacity and minimum set to 0")
            return exitStatus
        } catch {
            printError("could not set the desired capacity of \(name) to 0: \(error); the next instance tries again")
            return ExitStatus.failure
        }
    }

    /// The ending of a session that threw: the error printed as `spottrain train` prints it,
    /// with its exit status.
    static func ending(for error: any Error) -> TrainingSession.Ending {
        if let exit = error as? ExitCode {
            return TrainingSession.Ending(status: exit.rawValue, summary: nil, reason: "spottrain train exited \(exit.rawValue)")
        }
        let message = String(describing: error)
        printError(message)
        let status = error is UsageError ? ExitStatus.usage : JobCommand.exitStatus(for: error)
        return TrainingSession.Ending(status: status, summary: nil, reason: message)
    }

    /// The instance id, type and zone from IMDS.
    static func instance(_ imds: InstanceMetadataClient) async throws -> JobLifecycle.Instance {
        JobLifecycle.Instance(id: try await imds.instanceID(), type: try await imds.text("/latest/meta-data/instance-type"),
                              availabilityZone: try await imds.availabilityZone())
    }

    /// The work dir without `--work-dir`: the cache root (`$SPOTTRAIN_CACHE_DIR`,
    /// `$XDG_CACHE_HOME/spottrain`, `~/.cache/spottrain`) then `/jobs/BUCKET/PREFIX`.
    static func defaultWorkDir(_ store: JobStore) -> String {
        let variables = ProcessInfo.processInfo.environment
        let root: String
        if let configured = variables["SPOTTRAIN_CACHE_DIR"], !configured.isEmpty {
            root = configured
        } else if let xdg = variables["XDG_CACHE_HOME"], xdg.hasPrefix("/") {
            root = xdg + "/spottrain"
        } else {
            root = (variables["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()) + "/.cache/spottrain"
        }
        return root + "/jobs/" + store.bucket + (store.prefix.isEmpty ? "" : "/" + store.prefix)
    }
}
