import Foundation
import Testing

/// The job boot script (`spottrain job user-data`): run by `Tests/boot/job.sh` in a fake
/// root with stubbed package managers, `ldd` and `shutdown`, and kept word for word equal to
/// the boot recipe `Docs/examples/user-data.sh` in what it installs.
struct JobBootScriptTests {
    static let sha = String(repeating: "ab", count: 32)

    /// The generated script, written to a temporary file.
    static func generate(in directory: String) async throws -> String {
        let run = try await ChildProcess.run(["job", "user-data", "--store", "s3://spottrain-boot-test/jobs/a",
                                              "--binary-url", "https://example.invalid/spottrain", "--binary-sha256", sha],
                                             environment: .hermetic)
        try #require(run.status == 0, "\(run.stderr)")
        let path = directory + "/user-data.sh"
        try Data(run.stdout.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func expectPass(_ cases: [String]) async throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let script = try await generate(in: root)
        let runner = Fixtures.packageRoot.appendingPathComponent("Tests/boot/job.sh")
        let result = try await ChildProcess.run([runner.path, script] + cases, executable: URL(fileURLWithPath: "/bin/bash"))
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        for name in cases { #expect(result.stdout.contains("ok   \(name)"), "\(result.stdout)") }
    }

    @Test func aSuccessfulJobRunLeavesTheInstanceToTheGroup() async throws {
        try await Self.expectPass(["case_success_installs_runs_the_job_and_does_not_shut_down"])
    }

    @Test func aNonZeroJobRunShutsTheInstanceDownSoTheGroupReplacesIt() async throws {
        try await Self.expectPass(["case_interruption_and_transient_errors_shut_down"])
    }

    @Test func aBinaryWithTheWrongDigestOrMissingLibrariesNeverRunsTheJob() async throws {
        try await Self.expectPass(["case_binary_with_the_wrong_sha256_is_never_run",
                                   "case_missing_library_shuts_down_before_the_job"])
    }

    @Test func amazonLinuxInstallsWithDnf() async throws {
        try await Self.expectPass(["case_amazon_linux_uses_dnf"])
    }

    @Test func everyCaseOfTheScriptIsRunByThisSuite() throws {
        let text = try String(contentsOf: Fixtures.packageRoot.appendingPathComponent("Tests/boot/job.sh"), encoding: .utf8)
        let defined = text.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("case_"), line.hasSuffix("() {"), let name = line.split(separator: "(").first else { return nil }
            return String(name)
        }
        let source = try String(contentsOf: URL(fileURLWithPath: #filePath), encoding: .utf8)
        #expect(defined.count >= 5)
        for name in defined { #expect(source.contains("\"\(name)\""), "\(name) is not run by JobBootScriptTests") }
    }

    @Test func theScriptInstallsExactlyAsTheBootRecipeAndFitsTheUserDataLimit() async throws {
        let root = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let script = try String(contentsOfFile: try await Self.generate(in: root), encoding: .utf8)
        #expect(script.utf8.count <= 16 * 1024)
        let recipe = try String(contentsOf: Fixtures.packageRoot.appendingPathComponent("Docs/examples/user-data.sh"), encoding: .utf8)
        func installSection(_ text: String) -> [Substring] {
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            guard let start = lines.firstIndex(where: { $0.hasPrefix("# 1. Runtime libraries") }),
                  let end = lines.firstIndex(where: { $0.contains("\"$SPOTTRAIN\" --version || fail") }), start < end else { return [] }
            return Array(lines[start...end])
        }
        let expected = installSection(recipe)
        #expect(expected.count > 20)
        #expect(installSection(script) == expected)
        #expect(script.contains("job run --store \"$JOB_STORE\""))
        #expect(script.contains(": \"${JOB_STORE:=s3://spottrain-boot-test/jobs/a}\""))
        #expect(script.contains(": \"${SPOTTRAIN_SHA256:=\(Self.sha)}\""))
    }

    @Test func binaryURLAndDigestThatCannotBeUsedAreUsageErrors() async throws {
        for extra in [["--binary-url", "ftp://host/spottrain", "--binary-sha256", Self.sha],
                      ["--binary-url", "https://host/a b", "--binary-sha256", Self.sha],
                      ["--binary-url", "https://host/spottrain", "--binary-sha256", "abc"],
                      ["--binary-url", "https://host/" + String(repeating: "x", count: 17_000), "--binary-sha256", Self.sha]] {
            let run = try await ChildProcess.run(["job", "user-data", "--store", "s3://bucket/jobs/a"] + extra, environment: .hermetic)
            #expect(run.status == 64, "\(extra.prefix(2)): \(run.stderr)")
        }
    }
}
