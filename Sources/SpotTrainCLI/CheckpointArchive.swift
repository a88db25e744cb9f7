import Foundation
import SpotTrain

/// `--fresh`: existing checkpoints are moved into `DIR/replaced-<unix seconds>-<random>/` rather than
/// deleted (they may be the only copy of a long run) or left in place (a later resume would
/// pick them, as their step numbers may be higher than the new run's).
enum CheckpointArchive {
    static func moveAside(_ directory: CheckpointDirectory) throws {
        let files = try directory.list()
        guard !files.isEmpty else { return }
        let target = (directory.path as NSString).appendingPathComponent(
            "replaced-\(Int(Date().timeIntervalSince1970))-" + String(UInt16.random(in: 0...UInt16.max), radix: 16))
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        for file in files {
            try FileManager.default.moveItem(atPath: file.path, toPath: (target as NSString).appendingPathComponent(file.name))
        }
        printNotice("--fresh: moved \(files.count) existing checkpoint(s) to \(target)")
    }
}
