import Foundation
import Testing
import SpotTrain

/// The hooks `SpotTrainMPI` builds on, checked without MPI: the batch slice of the random
/// generator, the loss's global normalisation, and `Trainer.gradientReducer` with two
/// in-process "ranks" that sum their gradients through memory.
@Suite struct DataParallelHookTests {
    @Test func batchSliceDrawsTheGlobalRowsAndEndsWhereOneProcessEnds() {
        let rows = 5, perRow = 6
        let whole = RandomGenerator(seed: 42)
        var expected = [Float](repeating: 0, count: rows * perRow)
        expected.withUnsafeMutableBufferPointer { whole.fillUniform($0, rows: rows) }
        for shards in 1...rows + 1 {
            var joined: [Float] = []
            for shard in 0..<shards {
                let range = BatchSlice.rowRange(globalRows: rows, shard: shard, of: shards)
                guard !range.isEmpty else { continue }
                let rng = RandomGenerator(seed: 42)
                rng.batchSlice = BatchSlice(firstRow: range.lowerBound, rows: range.count, globalRows: rows)
                var part = [Float](repeating: 0, count: range.count * perRow)
                part.withUnsafeMutableBufferPointer { rng.fillUniform($0, rows: range.count) }
                #expect(rng.state == whole.state, "shard \(shard) of \(shards) ends at another state")
                joined += part
            }
            #expect(joined == expected, "\(shards) shards do not draw the single-process rows")
        }
    }

    @Test func rowRangesCoverTheBatchInShardOrder() {
        for rows in 0...9 {
            for shards in 1...4 {
                let ranges = (0..<shards).map { BatchSlice.rowRange(globalRows: rows, shard: $0, of: shards) }
                #expect(ranges.flatMap { Array($0) } == Array(0..<rows))
                #expect(ranges.allSatisfy { $0.count == rows / shards || $0.count == rows / shards + 1 })
            }
        }
    }

    @Test func lossGradientCountScalesOnlyTheGradient() {
        let logits = Tensor(shape: [2, 3], values: [1, 2, 3, -1, 0, 4])
        let loss = SoftmaxCrossEntropy()
        let (mean, local, _) = loss(logits: logits, labels: [2, 0])
        let localValues = local.scalars
        let (sameMean, global, _) = loss(logits: logits, labels: [2, 0], gradientCount: 8)
        #expect(sameMean == mean)
        for (g, l) in zip(global.scalars, localValues) { #expect(abs(g - l * 2 / 8) <= 1e-7) }
    }

    /// 15 examples in batches of 7 (7, 7, 1): the last batch leaves shard 0 of 2 without a row.
    @Test(.timeLimit(.minutes(1)))
    func twoShardsMatchOneProcessAndHoldIdenticalWeights() throws {
        let data = Self.dataset(count: 15)
        let reference = Self.makeTrainer()
        let single = try reference.fit(train: data, epochs: 2, batchSize: 7, seed: 5)

        let group = InMemoryGroup(size: 2)
        let trainers = (0..<2).map { _ in Self.makeTrainer() }
        let results = Results()
        let done = DispatchSemaphore(value: 0)
        for shard in 0..<2 {
            let trainer = trainers[shard]
            trainer.gradientReducer = InMemoryReducer(group: group, shard: shard)
            let box = UncheckedBox((trainer, data))
            Thread {
                let outcome = Result { try box.value.0.fit(train: box.value.1, epochs: 2, batchSize: 7, seed: 5).progress }
                results.set(shard, outcome)
                done.signal()
            }.start()
        }
        for _ in 0..<2 { #expect(done.wait(timeout: .now() + 50) == .success, "a shard hung") }
        let progress = try (0..<2).map { try #require(results.get($0)).get() }

        let weights = trainers.map { $0.model.parameters.flatMap(\.value.scalars) }
        #expect(weights[0] == weights[1], "the shards' weights differ")
        #expect(trainers[0].rng.state == reference.rng.state && trainers[1].rng.state == reference.rng.state,
                "dropout drew a different number of values than one process")
        let expected = reference.model.parameters.flatMap(\.value.scalars)
        let worst = zip(weights[0], expected).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-4, "largest weight difference from one process: \(worst)")
        for p in progress {
            #expect(p.globalStep == single.globalStep && p.trainingSamples == single.progress.trainingSamples)
            for (a, b) in zip(p.history, single.progress.history) {
                #expect(abs((a["loss"] ?? .nan) - (b["loss"] ?? .nan)) <= 1e-4)
                #expect(a["accuracy"] == b["accuracy"])
            }
        }
    }

    static func makeTrainer() -> Trainer {
        let rng = RandomGenerator(seed: 9)
        let model = Sequential(inputShape: [3, 3, 1]) {
            Flatten()
            Dense(units: 16, activation: .relu, rng: rng)
            Dropout(rate: 0.5, rng: rng)
            Dense(units: 3, rng: rng)
        }
        return Trainer(model: model, optimizer: Adam(learningRate: 0.01), rng: rng)
    }

    static func dataset(count: Int) -> Dataset {
        let rng = RandomGenerator(seed: 1)
        return Dataset(images: Tensor.uniform([count, 3, 3, 1], rng: rng), labels: (0..<count).map { Int32($0 % 3) })
    }
}

/// Sums the "ranks'" buffers in rank order, through memory, once every rank has arrived.
private final class InMemoryGroup: @unchecked Sendable {
    let size: Int
    private let condition = NSCondition()
    private var buffers: [[Float]]
    private var arrived = 0
    private var generation = 0
    private var result: [Float] = []

    init(size: Int) {
        self.size = size
        buffers = Array(repeating: [], count: size)
    }

    func sum(rank: Int, _ values: [Float]) -> [Float] {
        condition.lock()
        defer { condition.unlock() }
        let round = generation
        buffers[rank] = values
        arrived += 1
        if arrived == size {
            var total = buffers[0]
            for r in 1..<size { for i in total.indices { total[i] += buffers[r][i] } }
            result = total
            arrived = 0
            generation += 1
            condition.broadcast()
        } else {
            while generation == round { condition.wait() }
        }
        return result
    }
}

private final class InMemoryReducer: GradientReducer {
    let group: InMemoryGroup
    let shard: Int
    var shardCount: Int { group.size }

    init(group: InMemoryGroup, shard: Int) {
        self.group = group
        self.shard = shard
    }

    func reduce(gradients parameters: [Parameter], contribution: inout StepContribution) throws {
        var packed = parameters.flatMap(\.gradient.scalars)
        packed += [contribution.lossSum, Float(contribution.correct), Float(contribution.count)]
        let sums = group.sum(rank: shard, packed)
        var offset = 0
        for p in parameters {
            for i in 0..<p.gradient.count { p.gradient.pointer[i] = sums[offset + i] }
            offset += p.gradient.count
        }
        contribution = StepContribution(lossSum: sums[offset], correct: Int(sums[offset + 1]), count: Int(sums[offset + 2]))
    }
}

private final class Results: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Int: Result<TrainingProgress, any Error>] = [:]
    func set(_ shard: Int, _ value: Result<TrainingProgress, any Error>) { lock.withLock { values[shard] = value } }
    func get(_ shard: Int) -> Result<TrainingProgress, any Error>? { lock.withLock { values[shard] } }
}

private struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
