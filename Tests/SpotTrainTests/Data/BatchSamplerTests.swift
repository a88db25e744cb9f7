import Testing
import SpotTrain

@Suite struct BatchSamplerTests {
    @Test func eachEpochIsAPermutation() {
        let sampler = BatchSampler(count: 1000, batchSize: 32, seed: 7)
        for epoch in 0..<3 {
            let order = sampler.order(epoch: epoch)
            #expect(order.sorted() == Array(0..<1000))
            #expect(order != Array(0..<1000))
        }
    }

    @Test func orderIsAPureFunctionOfSeedAndEpoch() {
        let a = BatchSampler(count: 500, batchSize: 10, seed: 42)
        let b = BatchSampler(count: 500, batchSize: 10, seed: 42)
        // Different access histories, same answers.
        _ = a.order(epoch: 5)
        #expect(a.order(epoch: 2) == b.order(epoch: 2))
        #expect(a.indices(epoch: 3, batch: 7) == b.indices(epoch: 3, batch: 7))
        // The documented recipe.
        var expected = Array(0..<500)
        RandomGenerator(seed: 42, stream: 3).shuffle(&expected)
        #expect(a.order(epoch: 3) == expected)
        #expect(Array(a.indices(epoch: 3, batch: 1)) == Array(expected[10..<20]))
    }

    @Test func epochsAndSeedsDiffer() {
        let sampler = BatchSampler(count: 500, batchSize: 10, seed: 42)
        #expect(sampler.order(epoch: 0) != sampler.order(epoch: 1))
        #expect(sampler.order(epoch: 1) != sampler.order(epoch: 2))
        #expect(BatchSampler(count: 500, batchSize: 10, seed: 43).order(epoch: 0) != sampler.order(epoch: 0))
    }

    @Test func lastPartialBatchIsIncludedUnlessDropped() {
        let keep = BatchSampler(count: 10, batchSize: 4, seed: 1)
        #expect(keep.batchesPerEpoch == 3)
        #expect(keep.examplesPerEpoch == 10)
        #expect(keep.indices(epoch: 0, batch: 2).count == 2)
        let all = (0..<3).flatMap { keep.indices(epoch: 0, batch: $0) }
        #expect(all == keep.order(epoch: 0))
        let drop = BatchSampler(count: 10, batchSize: 4, seed: 1, dropLast: true)
        #expect(drop.batchesPerEpoch == 2)
        #expect(drop.examplesPerEpoch == 8)
        #expect(drop.indices(epoch: 0, batch: 1) == keep.indices(epoch: 0, batch: 1))
        #expect(BatchSampler(count: 12, batchSize: 4, seed: 1).batchesPerEpoch == 3)
        #expect(BatchSampler(count: 0, batchSize: 4, seed: 1).batchesPerEpoch == 0)
    }

    @Test func withoutShuffleEveryEpochIsInOrder() {
        let sampler = BatchSampler(count: 7, batchSize: 3, seed: 99, shuffle: false)
        #expect(sampler.order(epoch: 4) == Array(0..<7))
        #expect(Array(sampler.indices(epoch: 1, batch: 2)) == [6])
    }

    @Test func resumingFromACursorYieldsTheSameRemainingBatches() {
        let seed: UInt64 = 2024
        let reference = BatchSampler(count: 103, batchSize: 10, seed: seed)
        var cursor = BatchCursor.start
        var uninterrupted: [[Int]] = []
        var saved: BatchCursor?
        for step in 0..<35 {
            if step == 17 { saved = cursor }
            uninterrupted.append(Array(reference.indices(at: cursor)))
            cursor = reference.advance(cursor)
        }
        // A new process: a fresh sampler and the cursor from the checkpoint.
        let restored = try! #require(saved)
        #expect(restored == BatchCursor(epoch: 1, batchIndex: 6))
        let resumed = BatchSampler(count: 103, batchSize: 10, seed: seed)
        var c = restored
        var after: [[Int]] = []
        for _ in 17..<35 {
            after.append(Array(resumed.indices(at: c)))
            c = resumed.advance(c)
        }
        #expect(after == Array(uninterrupted[17...]))
        #expect(c == cursor)
    }

    @Test func cursorAdvancesThroughEpochsAndMapsToGlobalSteps() {
        let sampler = BatchSampler(count: 10, batchSize: 4, seed: 0)
        var c = BatchCursor.start
        var visited: [BatchCursor] = []
        for _ in 0..<7 { visited.append(c); c = sampler.advance(c) }
        #expect(visited.map(\.epoch) == [0, 0, 0, 1, 1, 1, 2])
        #expect(visited.map(\.batchIndex) == [0, 1, 2, 0, 1, 2, 0])
        for (step, cursor) in visited.enumerated() {
            #expect(sampler.globalStep(at: cursor) == step)
            #expect(sampler.cursor(atGlobalStep: step) == cursor)
        }
        #expect(BatchCursor(epoch: 1, batchIndex: 0) > BatchCursor(epoch: 0, batchIndex: 2))
    }
}
