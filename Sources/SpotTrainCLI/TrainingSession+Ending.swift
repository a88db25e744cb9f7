import Crypto
import Foundation
import SpotTrain

extension TrainingSession {
    /// Ends the run: ``finishRun(_:rankChecksums:)`` for one process; with a group, every
    /// rank first reports its weights' checksum, rank 0 then finishes alone (its evaluation,
    /// last upload and summary) while the others wait for its exit status, which every rank
    /// returns (so that all exit 75 after an agreed interruption, once rank 0's checkpoint is
    /// written).
    /// - Parameter context: The training context ``fit()`` returned.
    /// - Returns: The ending (rank 0's status on every rank).
    /// - Throws: When `--summary` cannot be written, or the ranks cannot communicate.
    func finish(_ context: TrainingContext) throws -> Ending {
        guard let group, let model else { return try finishRun(context, rankChecksums: nil) }
        let checksums = try Self.rankChecksums(group, model)
        guard isRoot else { return Ending(status: try Self.agreeOnStatus(group, ExitStatus.success), summary: nil, reason: nil) }
        let ending = try finishRun(context, rankChecksums: checksums)
        _ = try Self.agreeOnStatus(group, ending.status)
        return ending
    }

    /// The last step: test metrics of the final weights, the final upload to the store, the
    /// summary (written to `--summary`), and how the run ended.
    ///
    /// - 0: trained to the end (or `--max-steps`), the newest checkpoint saved (and stored);
    /// - 75: interrupted after a checkpoint of the step it stopped at (stored, with a store);
    /// - 1: the last save, the emergency save or the final upload failed (a restart resumes
    ///   from the previous checkpoint);
    /// - 78: the loss diverged (a restart would diverge again).
    /// - Parameters:
    ///   - context: The training context ``fit()`` returned.
    ///   - rankChecksums: With a group, every rank's weights checksum (for the summary).
    /// - Returns: The ending; its reason is the line printed on standard error.
    /// - Throws: When `--summary` cannot be written.
    func finishRun(_ context: TrainingContext, rankChecksums: [String]?) throws -> Ending {
        guard let trainer, let model, let testSet else { preconditionFailure("TrainingSession.finish before fit") }
        let report = context.status == .interrupted ? interruption?.report : nil
        let summaryPath = options.summary

        // Test metrics of the final weights: the last epoch's validation pass if nothing was
        // trained after it, else a fresh evaluation (skipped after an interruption: the
        // machine is going away, and the time is better spent exiting). None without a test
        // set or after divergence: no invented values.
        let diverged = context.status == .diverged
        let test: (loss: Double, accuracy: Double)?
        if testSet.count == 0 || diverged {
            test = nil
        } else if context.stepInEpoch == 0, let last = context.progress.history.last,
           let loss = last["val_loss"], let accuracy = last["val_accuracy"] {
            test = (loss, accuracy)
        } else if report != nil {
            test = nil
        } else {
            let e = trainer.evaluate(testSet)
            test = (e.loss, e.accuracy)
        }
        // The last save before the end (or the emergency save of an interruption) failed:
        // the newest state is not on disk, so the run is not reported as done.
        let saveFailed: Bool
        if let report {
            if case .saveFailed = report.outcome { saveFailed = true } else { saveFailed = false }
        } else {
            saveFailed = !diverged && checkpointer?.lastSaveFailed == true
        }
        // With a store, a run is only done when its newest checkpoint is in the bucket.
        let upload = report == nil ? checkpointer.flatMap { options.finalUpload($0, resumed: resumed, mirror: mirror) } : nil
        var uploadFailed = false
        if let upload, !diverged, !saveFailed {
            if case .uploaded = upload {} else { uploadFailed = true }
        }
        let newestGood = checkpointer?.lastSaved ?? resumed?.file
        let progress = context.progress
        var result = RunSummary(
            status: saveFailed ? RunSummary.saveFailedStatus
                : uploadFailed ? RunSummary.uploadFailedStatus : context.status.rawValue,
            epochsCompleted: progress.history.count,
            globalStep: progress.globalStep,
            testAccuracy: test?.accuracy,
            testLoss: test?.loss,
            trainLoss: context.logs["loss"],
            samplesPerSecond: progress.trainingSeconds > 0 ? Double(progress.trainingSamples) / progress.trainingSeconds : 0,
            wallSeconds: start.duration(to: clock.now).seconds,
            weightsSHA256: model.weightsSHA256(),
            seed: runSeed,
            threads: Threading.threads,
            history: progress.history,
            resumedFrom: resumed?.source,
            resumedStep: resumed?.progress.globalStep,
            checkpoint: report.map { $0.checkpoint?.path } ?? newestGood?.path,
            checkpointsSaved: checkpointer?.saveCount ?? 0,
            checkpointSaveSeconds: checkpointer?.totalSaveSeconds ?? 0,
            checkpointFailures: checkpointer?.failureCount ?? 0,
            stopReason: context.stopReason,
            checkpointStore: store?.location,
            uploads: mirror?.statistics.uploads ?? 0,
            uploadFailures: mirror?.statistics.failures ?? 0,
            checkpointUploaded: mirror?.statistics.lastUploaded?.location,
            worldSize: group?.worldSize,
            communicationSeconds: group?.communicationSeconds,
            rankWeightsChecksums: rankChecksums)
        if !options.quiet, let test {
            printNotice("\(result.status) at step \(result.globalStep): "
                        + String(format: "test accuracy %.4f, test loss %.4f, %.0f samples/s",
                                 test.accuracy, test.loss, result.samplesPerSecond))
        }
        if diverged {
            if let summaryPath { try result.write(to: summaryPath) }
            return failed(ExitStatus.configuration, result,
                          "training diverged: \(context.stopReason ?? "a non-finite loss"); no checkpoint of the diverged state "
                          + "was written; the newest good checkpoint is "
                          + (newestGood.map { "\($0.path) (step \($0.globalStep))" } ?? "none")
                          + "; a restart would diverge again (resuming is exact): change the run (for example a smaller "
                          + "--learning-rate) or pass --fresh; exit \(ExitStatus.configuration)")
        }
        guard let report else {
            if let summaryPath { try result.write(to: summaryPath) }
            if saveFailed {
                return failed(ExitStatus.failure, result,
                              "the last checkpoint save failed (\(result.checkpointFailures) failed saves in this run): the state at "
                              + "step \(progress.globalStep) is not on disk; the newest good checkpoint is "
                              + (newestGood.map { "\($0.path) (step \($0.globalStep))" } ?? "none")
                              + ", which a restart resumes from; exit \(ExitStatus.failure)")
            }
            if uploadFailed, let upload {
                return failed(ExitStatus.failure, result,
                              "the last checkpoint \(newestGood?.path ?? "?") (step \(progress.globalStep)) is on disk but NOT in "
                              + "\(store?.location ?? "the store"): \(CheckpointMirror.describe(upload)); a restart on this disk "
                              + "uploads it and continues; on another machine it would resume from an older checkpoint; exit \(ExitStatus.failure)")
            }
            return Ending(status: ExitStatus.success, summary: result, reason: nil)
        }
        let details = InterruptionSummary(report, exitAt: Date())
        result.interruption = details
        if let summaryPath { try result.write(to: summaryPath) }
        let timing = String(format: "%.3f s from notice to exit (checkpoint %.3f s)",
                            details.noticeToExitSeconds, details.checkpointSeconds)
        if report.checkpointIsCurrent {
            let message = "interrupted at step \(report.globalStep) by \(report.request.kind.rawValue) (\(report.request.reason)); "
                + "checkpoint \(report.checkpoint?.path ?? "?"); \(timing); exit \(ExitStatus.interrupted): restart to continue"
            printNotice(message)
            return Ending(status: ExitStatus.interrupted, summary: result, reason: message)
        }
        return failed(ExitStatus.failure, result,
                      "interrupted at step \(report.globalStep) by \(report.request.kind.rawValue) (\(report.request.reason)) "
                      + "WITHOUT a checkpoint of this step (\(report.outcomeName)); a restart resumes from "
                      + (report.checkpoint.map { "\($0.path) (step \($0.globalStep))" } ?? "scratch") + "; \(timing)")
    }

    /// Prints `message` as an error and returns the ending with that status and reason.
    private func failed(_ status: Int32, _ summary: RunSummary, _ message: String) -> Ending {
        printError(message)
        return Ending(status: status, summary: summary, reason: message)
    }
}
