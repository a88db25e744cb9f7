import Testing
import Foundation

/// Locates the built `spottrain` executable next to the test bundle (or `SPOTTRAIN_BIN`).
enum SpotTrainBinary {
    static var url: URL {
        if let path = ProcessInfo.processInfo.environment["SPOTTRAIN_BIN"] {
            return URL(fileURLWithPath: path)
        }
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        // Swift Testing on Linux runs `<bin>/SpotTrainPackageTests.xctest`.
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("spottrain").path),
              dir.path != "/" {
            dir = dir.deletingLastPathComponent()
        }
        return dir.appendingPathComponent("spottrain")
    }
}

@Suite struct CLITests {
    @Test func versionFlagPrintsVersion() throws {
        let p = Process()
        p.executableURL = SpotTrainBinary.url
        p.arguments = ["--version"]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        p.waitUntilExit()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(p.terminationStatus == 0)
        #expect(text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").count == 3)
    }
}
