import Foundation
import Testing

/// The boot recipe `Docs/examples/user-data.sh`, run by `Tests/boot/run.sh` in a fake root
/// with stubbed `udevadm`, `blkid`, `mkfs.ext4`, `mount`, `systemctl`, `shutdown` and
/// `spottrain` (its block devices are made with mknod, hence root only).
@Suite(.enabled(if: getuid() == 0, "Tests/boot/run.sh makes block devices with mknod: run as root"))
struct BootRecipeTests {
    static func runCases(_ cases: [String]) throws -> ChildProcess.Result {
        let script = Fixtures.packageRoot.appendingPathComponent("Tests/boot/run.sh")
        return try ChildProcess.run([script.path] + cases, executable: URL(fileURLWithPath: "/bin/bash"))
    }

    static func expectPass(_ cases: [String]) throws {
        let result = try runCases(cases)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        for name in cases { #expect(result.stdout.contains("ok   \(name)"), "\(result.stdout)") }
    }

    @Test func deviceAppearingAfterThreeSecondsIsFoundAndNeverAppearingStopsAtTheDeadline() throws {
        try Self.expectPass(["case_device_appears_after_3s_is_found",
                             "case_device_never_appearing_stops_at_the_deadline"])
    }

    @Test func onlyAVolumeCreatedEmptyIsFormattedAndADamagedOneStops() throws {
        try Self.expectPass(["case_created_volume_is_formatted",
                             "case_created_but_not_formatted_on_this_instance_is_formatted_on_rerun",
                             "case_damaged_existing_ext4_is_not_formatted",
                             "case_foreign_file_system_stops"])
    }

    @Test func ensureVolumeIsRetriedUntilItsDeadlineThenTheInstanceShutsDown() throws {
        try Self.expectPass(["case_throttling_is_retried",
                             "case_failure_past_the_deadline_shuts_down",
                             "case_configuration_error_is_not_retried",
                             "case_unexpected_failure_shuts_down",
                             "case_unit_with_the_wrong_sha256_is_not_installed"])
    }

    @Test func packagesExistOnUbuntuAndAmazonLinuxAndLddIsChecked() throws {
        try Self.expectPass(["case_amazon_linux_installs_names_that_exist_there",
                             "case_ubuntu_installs_libxml2_and_ca_certificates",
                             "case_missing_library_shuts_down_before_touching_the_volume"])
    }

    @Test func everyCaseOfTheScriptIsRunByThisSuite() throws {
        let text = try String(contentsOf: Fixtures.packageRoot.appendingPathComponent("Tests/boot/run.sh"), encoding: .utf8)
        let defined = Set(text.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("case_"), line.hasSuffix("() {"), let name = line.split(separator: "(").first else { return nil }
            return String(name)
        })
        let source = try String(contentsOf: URL(fileURLWithPath: #filePath), encoding: .utf8)
        #expect(defined.count >= 14)
        for name in defined { #expect(source.contains("\"\(name)\""), "\(name) is not run by BootRecipeTests") }
    }

    @Test func recipeFitsTheUserDataLimitAndEmbedsNoUnit() throws {
        let recipe = try Data(contentsOf: Fixtures.packageRoot.appendingPathComponent("Docs/examples/user-data.sh"))
        #expect(recipe.count <= 16 * 1024)
        let text = String(decoding: recipe, as: UTF8.self)
        #expect(!text.contains("[Service]"), "the recipe must download the one unit file, not embed a copy")
    }
}
