import Foundation
import Testing

/// `spottrain simulate` end to end on a tiny run.
@Suite(.enabled(if: Fixtures.mnistDirectory != nil, "needs the real MNIST (Data/mnist, SPOTTRAIN_MNIST_DIR or ../shared/data/mnist)"))
struct SimulateCommandTests {
    @Test func interruptedSessionFinishesWithTheReferenceWeights() throws {
        let result = try ChildProcess.run(["simulate", "--data", Fixtures.mnistDirectory!, "--train-limit", "512", "--test-limit", "50",
                                           "--batch-size", "64", "--epochs", "2", "--max-steps", "12", "--save-every-steps", "3",
                                           "--interrupt-at", "0.8,1.6", "--json"], environment: .loopbackIMDS())
        #expect(result.status == 0, "\(result.stderr)")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
        #expect(rows.count == 1)
        let row = try #require(rows.first)
        #expect(row["final_step"] as? Int == 12)
        #expect(row["weights_match"] as? Bool == true)
        #expect(row["save_every_steps"] as? Int == 3)
        #expect(row["signal"] as? String == "SIGTERM")
        let interruptions = try #require(row["interruptions"] as? Int)
        #expect(row["processes"] as? Int == interruptions + 1)
        // A graceful interruption checkpoints the step it stops at: nothing is trained twice.
        #expect(row["steps_redone"] as? Int == 0, "\(row)")
    }

    @Test func simulateNeedsASchedule() throws {
        #expect(try ChildProcess.run(["simulate", "--data", "/nonexistent"], environment: .loopbackIMDS()).status == 64)
    }
}
