#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension CheckpointDirectory {
    /// Keeps the `keep` newest valid checkpoints (and `protecting`, the file the caller just
    /// wrote) and deletes the checkpoints older than the oldest of those.
    ///
    /// Every file is verified first and ordered by the global step its verified content
    /// records, never by its name alone:
    /// - a valid file older than the oldest kept one is deleted;
    /// - a file whose content verified but whose name is wrong
    ///   (``CheckpointError/Code/nameMismatch``) is deleted only if its content step is
    ///   older than the oldest kept one;
    /// - a file whose content could not be verified is deleted only if its name's step is
    ///   older than the oldest kept one (newer invalid files are skipped by
    ///   ``latestValid()`` and replaced when training reaches their step again);
    /// - only regular files are deleted: a FIFO, directory, device or symbolic link named
    ///   like a checkpoint is reported by ``verifyAll()`` and left to the operator.
    ///
    /// So a checkpoint newer than one that is kept is never deleted, `protecting` is never
    /// deleted, and if fewer than `keep` valid files exist nothing is deleted. Call it only
    /// after a successful ``save(_:)``, never after a failed one, and only while holding
    /// the directory's ``lock()``.
    /// - Parameters:
    ///   - keep: How many valid checkpoints to keep (at least 1).
    ///   - protecting: A file never to delete (the one just written), kept in addition to
    ///     the `keep` newest when it is older than they are.
    /// - Returns: The files deleted, oldest first.
    /// - Throws: ``CheckpointError`` if listing or a deletion fails (earlier deletions stand).
    @discardableResult
    public func prune(keep: Int, protecting: CheckpointFile? = nil) throws -> [CheckpointFile] {
        precondition(keep >= 1, "CheckpointDirectory.prune: keep \(keep) must be at least 1")
        let results = try list().map(verify)
        let valid = results.filter(\.isValid).sorted {
            ($0.contentGlobalStep ?? -1, $0.file.name) < ($1.contentGlobalStep ?? -1, $1.file.name)
        }
        guard valid.count >= keep else { return [] }
        var cutoff = valid[valid.count - keep].contentGlobalStep ?? 0
        if let protecting, let step = results.first(where: { $0.file.path == protecting.path })?.contentGlobalStep {
            cutoff = min(cutoff, step)
        }
        var deleted: [CheckpointFile] = []
        for result in results where result.file.path != protecting?.path {
            let step = result.contentGlobalStep ?? result.file.globalStep
            guard step < cutoff, Self.isRegularFile(result.file.path) else { continue }
            try fileSystem.removeFile(atPath: result.file.path)
            deleted.append(result.file)
        }
        return deleted
    }

    private static func isRegularFile(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }
}
