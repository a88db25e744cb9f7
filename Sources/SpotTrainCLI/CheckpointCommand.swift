import ArgumentParser
import Foundation
import SpotTrain

/// `spottrain checkpoint inspect|verify|export|import`.
struct CheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Inspect and verify checkpoint files; export and import their weights.",
        subcommands: [Inspect.self, Verify.self, Export.self, Import.self]
    )

    /// `spottrain checkpoint inspect FILE`.
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a checkpoint's header, metadata and tensors, with sizes, compression ratios and CRC status.",
            discussion: """
            Exits 0 when the file is valid (including, for a file named ckpt-<step>.spt, that the
            name is the name of the global step in its metadata), 1 otherwise, 64 when FILE is not
            a regular file (a FIFO, a directory, a dangling symbolic link, …).
            """)

        @Argument(help: "The checkpoint file.")
        var file: String

        func run() throws {
            try PathArguments.require(file, is: .inputFile, for: "FILE")
            let report = try reportingErrors { try CheckpointReader().inspect(atPath: file) }
            print(report.text)
            var valid = report.isValid
            let name = (file as NSString).lastPathComponent
            if let metadata = report.metadata, let step = CheckpointDirectory.globalStep(fromFileName: name) {
                do {
                    try CheckpointDirectory.checkName(CheckpointFile(path: file, name: name, globalStep: step), metadata)
                } catch {
                    print("name: INVALID: \(error)")
                    valid = false
                }
            }
            if !valid { throw ExitCode(ExitStatus.failure) }
        }
    }

    /// `spottrain checkpoint verify DIR`.
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify every checkpoint in a directory.",
            discussion: """
            Prints one line per file: ok, or INVALID and the reason (corruption, a value out of
            range, a name that is not the name of the step the file holds, not a regular file, …),
            then a last line with the count and the newest valid checkpoint (the one a resume
            would use). Exits 0 only if there is at least one checkpoint and every checkpoint
            verifies; 1 otherwise; 64 when DIR is not a directory. Takes no lock: it may run
            while a training run writes to DIR.
            """)

        @Argument(help: "The checkpoint directory.")
        var directory: String

        func run() throws {
            try PathArguments.require(directory, is: .inputDirectory, for: "DIR")
            let results = try reportingErrors { () -> [CheckpointVerification] in
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                    throw CheckpointError(.io, "no such directory", path: directory)
                }
                return try CheckpointDirectory(path: directory).verifyAll()
            }
            for r in results {
                print("\(r.file.name): " + (r.error.map { "INVALID: \($0)" } ?? "ok"))
            }
            let valid = results.filter(\.isValid)
            let newest = valid.max { ($0.contentGlobalStep ?? -1) < ($1.contentGlobalStep ?? -1) }
            print("\(valid.count) of \(results.count) checkpoint(s) valid; "
                  + (newest.map { "newest valid: \($0.file.path) (global step \($0.contentGlobalStep ?? $0.file.globalStep))" }
                     ?? "no valid checkpoint"))
            if results.isEmpty || valid.count < results.count { throw ExitCode(ExitStatus.failure) }
        }
    }
}
