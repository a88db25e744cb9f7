import Testing
import Foundation

@Suite struct CLITests {
    @Test func versionFlagPrintsVersion() throws {
        let result = try ChildProcess.run(["--version"])
        #expect(result.status == 0)
        #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".").count == 3)
    }
}
