import Foundation
import Testing

/// Running the built `spottrain` in tests.
enum CLI {
    /// The package root (this file is `Tests/spottrainTests/CLITestSupport.swift`).
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// The real MNIST: `SPOTTRAIN_MNIST_DIR` or `../shared/data/mnist` beside the package.
    static var mnistDirectory: String? {
        if let dir = ProcessInfo.processInfo.environment["SPOTTRAIN_MNIST_DIR"] { return dir }
        let dir = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data/mnist").path
        return FileManager.default.fileExists(atPath: dir + "/train-labels-idx1-ubyte.gz") ? dir : nil
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var killed: Bool
    }

    /// Starts `spottrain` with `arguments`; calls `poll` about every millisecond while it runs
    /// and sends SIGKILL when `poll` returns true.
    static func run(_ arguments: [String], environment: [String: String]? = nil,
                    killWhen poll: (() -> Bool)? = nil) throws -> Result {
        let process = Process()
        process.executableURL = SpotTrainBinary.url
        process.arguments = arguments
        if let environment { process.environment = environment }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("spottrain-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // Files, not pipes: a chatty child can never block on a full pipe.
        let outURL = dir.appendingPathComponent("out"), errURL = dir.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        try process.run()
        var killed = false
        if let poll {
            while process.isRunning {
                if poll() {
                    kill(process.processIdentifier, SIGKILL)
                    killed = true
                    break
                }
                usleep(500)
            }
        }
        process.waitUntilExit()
        return Result(status: process.terminationStatus,
                      stdout: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "",
                      killed: killed || process.terminationReason == .uncaughtSignal)
    }

    /// Reads a `--summary` JSON file.
    static func summary(_ path: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// A new empty temporary directory.
    static func temporaryDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("spottrain-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.path
    }
}
