import ArgumentParser
import EC2Spot
import Foundation
import SpotTrain
import SpotTrainS3

/// `spottrain job run --store s3://BUCKET/PREFIX [--work-dir DIR]`: the whole job on one
/// instance (what the launch template's user data runs at every boot).
struct JobRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the job of a store on this instance: resume, train, record the status.",
        discussion: """
        Reads the job's spec (s3://BUCKET/PREFIX/job.json) and this instance's id, type and
        Availability Zone from IMDS (AWS_EC2_METADATA_SERVICE_ENDPOINT, else the real one),
        counts the attempt in s3://BUCKET/PREFIX/status.json (state running), checks the job's
        max_hours (since its creation) and max_interruptions, then trains as `spottrain train`
        with the spec's train arguments plus --checkpoint-dir s3://BUCKET/PREFIX/checkpoints
        (the work dir is the cache; --data s3://… is downloaded into it), --spot and a summary
        in the work dir. The status records the newest checkpoint as it reaches the store.

        Exit statuses: 0 the job succeeded (status succeeded with weights_sha256; the group's
        desired capacity and minimum set to 0, so billing stops); 64 or 78 the job failed for
        good (status failed with the reason; the group stopped); 75 interrupted after the
        emergency checkpoint reached the store (status recovering, or failed when
        max_interruptions is reached); 1 a transient error (status recovering). On 75 and 1
        the instance goes away and the group launches a replacement, which resumes.
        """
    )

    @Option(help: "The job's store, s3://BUCKET/PREFIX (as given to `job up`).")
    var store: String

    @Option(name: .customLong("work-dir"),
            help: "Local work dir: checkpoint and data cache, summary (default: the cache root, then /jobs/BUCKET/PREFIX).")
    var workDir: String?

    func validate() throws {
        do {
            _ = try S3CheckpointStore.parse(store)
        } catch {
            throw ValidationError("--store: \(error)")
        }
        if let workDir { try PathArguments.require(workDir, is: .directory, for: "--work-dir") }
    }

    func run() throws {
        try reportingErrors(status: JobCommand.exitStatus(for:)) {
            let status = try JobRun(store: store, workDir: workDir, makeGroupControl: AutoScalingGroupControl.make).run()
            if status != ExitStatus.success { throw ExitCode(status) }
        }
    }
}
