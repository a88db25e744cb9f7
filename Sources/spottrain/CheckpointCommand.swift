import ArgumentParser
import Foundation
import SpotTrain

/// `spottrain checkpoint inspect|verify`.
struct CheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Inspect and verify checkpoint files.",
        subcommands: [Inspect.self, Verify.self]
    )

    /// `spottrain checkpoint inspect FILE`.
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a checkpoint's header, metadata and tensors, with sizes, compression ratios and CRC status.",
            discussion: "Exits 0 when the file is valid, 1 otherwise.")

        @Argument(help: "The checkpoint file.")
        var file: String

        func run() throws {
            let report = try reportingErrors { try CheckpointReader().inspect(atPath: file) }
            print(report.text)
            if !report.isValid { throw ExitCode(ExitStatus.failure) }
        }
    }

    /// `spottrain checkpoint verify DIR`.
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify every checkpoint in a directory.",
            discussion: "Prints one line per file: ok, or the reason it is not. Exits 0 only if at least one valid checkpoint exists.")

        @Argument(help: "The checkpoint directory.")
        var directory: String

        func run() throws {
            let results = try reportingErrors { () -> [CheckpointVerification] in
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                    throw CheckpointError(.io, "not a directory", path: directory)
                }
                return try CheckpointDirectory(path: directory).verifyAll()
            }
            for r in results {
                print("\(r.file.name): " + (r.error.map { "INVALID: \($0)" } ?? "ok"))
            }
            let valid = results.filter(\.isValid).count
            print("\(valid) of \(results.count) checkpoint(s) valid")
            if valid == 0 { throw ExitCode(ExitStatus.failure) }
        }
    }
}
