import Logging

extension CheckpointManager {
    /// Blocks until the mirror has stored (or failed to store) the newest checkpoint this
    /// manager wrote, retrying a failed upload once, and records the result in
    /// ``finalUpload``. Does nothing without a mirror or a checkpoint.
    public func waitForFinalUpload() {
        guard let mirror, let last = lastSaved else { return }
        var result = waitForUpload(of: last, mirror: mirror)
        if case .failed = result, !mirror.statistics.lastFailureRefused {
            // The last chance to get the newest state into the store: once more, from scratch.
            logger.warning("the upload of the final checkpoint \(last.name) failed; trying once more",
                           metadata: ["checkpoint": "\(last.name)", "step": "\(last.globalStep)"])
            mirror.enqueue(last)
            result = waitForUpload(of: last, mirror: mirror)
        }
        if case .uploaded = result { mirror.drain(timeout: 60) }
        finalUpload = result
        if case .failed(let reason) = result {
            logger.error("the final checkpoint \(last.path) is not in \(mirror.store.location): \(reason)",
                         metadata: ["path": "\(last.path)", "step": "\(last.globalStep)",
                                    "location": "\(mirror.store.location)"])
        }
    }

    /// Waits for `file`'s upload in slices of half a second, giving up early when
    /// ``stopWaitingForUploads`` says so (an interruption arrived during the final wait).
    private func waitForUpload(of file: CheckpointFile, mirror: CheckpointMirror) -> CheckpointMirror.UploadResult {
        while true {
            let result = mirror.wait(for: file, timeout: 0.5)
            guard result == .timedOut else { return result }
            if let limit = stopWaitingForUploads?() { return mirror.wait(for: file, timeout: limit) }
        }
    }
}
