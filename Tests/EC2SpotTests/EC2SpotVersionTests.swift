import Testing
import EC2Spot

@Suite struct EC2SpotVersionTests {
    @Test func versionIsSemantic() {
        #expect(EC2SpotLibrary.version.split(separator: ".").count == 3)
    }
}
