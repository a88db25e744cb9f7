import ArgumentParser
import Foundation
import SpotTrainS3

/// `spottrain job user-data`: prints the boot script `job up` puts in the launch template
/// (``JobBootScript``), to read it or to use it with another launcher.
struct JobUserDataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user-data",
        abstract: "Print the boot script of a job's instances.",
        discussion: """
        The script (at most 16 KiB, for Ubuntu 24.04 and Amazon Linux 2023) installs the
        runtime packages, downloads the spottrain binary from --binary-url and checks its
        SHA-256, runs `spottrain job run --store STORE --work-dir DIR`, and shuts the instance
        down when that exits non-zero (launch it with instance-initiated shutdown behaviour
        terminate), so the Auto Scaling group replaces it. Build the binary for the image's
        distribution (for example `swift build -c release --static-swift-stdlib`) and serve it
        from an https:// URL the instance can reach (a presigned S3 URL).
        """
    )

    @Option(help: "The job's store, s3://BUCKET/PREFIX.")
    var store: String

    @Option(name: .customLong("binary-url"), help: "Where instances download the spottrain binary (http:// or https://).")
    var binaryURL: String

    @Option(name: .customLong("binary-sha256"), help: "The binary's SHA-256 (64 hex digits), checked before it runs.")
    var binarySHA256: String

    @Option(name: .customLong("work-dir"), help: "The work dir of `job run` on the instance.")
    var workDir: String = "/var/lib/spottrain/job"

    func validate() throws {
        do {
            _ = try S3CheckpointStore.parse(store)
        } catch {
            throw ValidationError("--store: \(error)")
        }
        try Self.checkBinary(url: binaryURL, sha256: binarySHA256)
        guard workDir.hasPrefix("/"), !workDir.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw ValidationError("--work-dir must be an absolute path without control characters, got '\(workDir)'")
        }
    }

    /// Refuses a binary URL that is not http(s) or holds control characters or spaces, and a
    /// SHA-256 that is not 64 hex digits.
    /// - Throws: `ValidationError` naming the flag.
    static func checkBinary(url: String, sha256: String) throws {
        let scheme = URL(string: url)?.scheme?.lowercased()
        guard scheme == "https" || scheme == "http", URL(string: url)?.host != nil,
              !url.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F }) else {
            throw ValidationError("--binary-url must be an http:// or https:// URL with a host and no spaces, got '\(url)'")
        }
        guard sha256.count == 64, sha256.allSatisfy(\.isHexDigit) else {
            throw ValidationError("--binary-sha256 must be 64 hex digits (sha256sum of the binary), got '\(sha256)'")
        }
    }

    func run() throws {
        try reportingErrors(status: JobCommand.exitStatus(for:)) {
            let script = try JobBootScript.render(store: store, binaryURL: binaryURL, binarySHA256: binarySHA256.lowercased(),
                                                  workDir: workDir)
            FileHandle.standardOutput.write(Data(script.utf8))
        }
    }
}
