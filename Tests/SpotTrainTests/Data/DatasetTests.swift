import Testing
import SpotTrain

@Suite struct DatasetTests {
    /// 10 examples of shape [2, 2, 1]; example i holds i*10 + 0...3, label i % 3.
    static func sample(count: Int = 10) -> Dataset {
        let images = Tensor(shape: [count, 2, 2, 1], values: (0..<count).flatMap { i in (0..<4).map { Float(i * 10 + $0) } })
        return Dataset(images: images, labels: (0..<count).map { Int32($0 % 3) })
    }

    @Test func gatherCopiesTheExamplesAtTheIndicesInOrder() {
        let data = Self.sample()
        let batch = data.makeBatch(capacity: 4)
        #expect(batch.count == 0)
        data.gather([7, 2, 9, 2], into: batch)
        #expect(batch.count == 4)
        #expect(batch.images.shape == [4, 2, 2, 1])
        #expect(batch.images.scalars == [70, 71, 72, 73, 20, 21, 22, 23, 90, 91, 92, 93, 20, 21, 22, 23])
        #expect(batch.labelArray == [1, 2, 0, 2])
    }

    @Test func batchIsReusedAcrossStepsAndHandlesAPartialBatch() {
        let data = Self.sample()
        let batch = data.makeBatch(capacity: 4)
        let order = [3, 1, 4, 0, 5, 9, 2, 6, 8, 7]
        data.gather(order[0..<4], into: batch)
        let full = batch.images
        data.gather(order[4..<8], into: batch)
        #expect(batch.images === full)
        #expect(batch.labelArray == [2, 0, 2, 0])
        data.gather(order[8..<10], into: batch)
        #expect(batch.count == 2)
        #expect(batch.images.shape == [2, 2, 2, 1])
        #expect(batch.images.scalars == [80, 81, 82, 83, 70, 71, 72, 73])
        #expect(batch.labelArray == [2, 1])
        let partial = batch.images
        data.gather(order[0..<4], into: batch)
        #expect(batch.images === full)
        #expect(batch.images[0, 0, 0, 0] == 30)
        data.gather(order[8..<10], into: batch)
        #expect(batch.images === partial)
    }

    @Test func gatherAcceptsNonContiguousCollections() {
        let data = Self.sample()
        let batch = data.makeBatch(capacity: 3)
        data.gather([1, 5, 9].reversed(), into: batch)
        #expect(batch.labelArray == [0, 2, 1])
        #expect(batch.images[2, 1, 1, 0] == 13)
    }

    @Test func largeBatchesGatherTheSameAsSmallOnes() {
        // Large enough examples that the copy runs on several threads.
        let n = 64, size = 4096
        let images = Tensor(shape: [n, size], values: (0..<(n * size)).map { Float($0 % 9973) })
        let data = Dataset(images: images, labels: (0..<n).map(Int32.init))
        let order = (0..<n).reversed().map { $0 }
        let big = data.makeBatch(capacity: n)
        data.gather(order, into: big)
        for row in 0..<n {
            let example = order[row]
            #expect(Array(big.images.buffer[(row * size)..<((row + 1) * size)]) == Array(images.buffer[(example * size)..<((example + 1) * size)]))
        }
        #expect(big.labelArray == order.map(Int32.init))
    }

    @Test func subsetCopiesTheFirstExamples() {
        let data = Self.sample()
        let head = data.subset(first: 3)
        #expect(head.count == 3)
        #expect(head.images.shape == [3, 2, 2, 1])
        #expect(head.images.scalars == Array(data.images.scalars[0..<12]))
        #expect(head.labels == [0, 1, 2])
        #expect(head.images.storage !== data.images.storage)
        #expect(data.subset(first: 0).count == 0)
    }
}
