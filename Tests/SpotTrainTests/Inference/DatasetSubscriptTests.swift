import Testing
import SpotTrain

/// `dataset[i]` and `dataset[range]`.
@Suite struct DatasetSubscriptTests {
    /// 10 examples of shape [2, 2, 1]; example i holds i*10 + 0...3, label i % 3.
    static func sample(count: Int = 10) -> Dataset {
        let images = Tensor(shape: [count, 2, 2, 1], values: (0..<count).flatMap { i in (0..<4).map { Float(i * 10 + $0) } })
        return Dataset(images: images, labels: (0..<count).map { Int32($0 % 3) })
    }

    @Test func subscriptReturnsACopyOfOneImageAndItsLabel() {
        let data = Self.sample()
        let (image, label) = data[7]
        #expect(image.shape == [2, 2, 1] && image.scalars == [70, 71, 72, 73] && label == 1)
        image.fill(0)
        #expect(data[7].image.scalars == [70, 71, 72, 73])
    }

    @Test func rangeSubscriptsCopyTheExamplesInOrder() {
        let data = Self.sample()
        func firstPixels(_ d: Dataset) -> [Float] { (0..<d.count).map { d.images[$0, 0, 0, 0] } }
        #expect(firstPixels(data[2..<5]) == [20, 30, 40] && data[2..<5].labels == [2, 0, 1])
        #expect(firstPixels(data[2...4]) == [20, 30, 40])
        #expect(firstPixels(data[8...]) == [80, 90])
        #expect(firstPixels(data[..<2]) == [0, 10])
        #expect(firstPixels(data[...1]) == [0, 10])
        #expect(data[3..<3].count == 0 && data[3..<3].exampleShape == [2, 2, 1])
        #expect(data[10...].count == 0)
        #expect(data[0..<10].images.scalars == data.images.scalars)
        let slice = data[2..<5]
        slice.images.fill(-1)
        #expect(data.images[2, 0, 0, 0] == 20)
    }

    @Test func indexOutOfRangeNamesTheIndexAndTheCount() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = DatasetSubscriptTests.sample()[10]
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("Dataset[10]") && text.contains("count 10"), "\(text)")
    }

    @Test func rangeOutOfRangeNamesTheRangeAndTheCount() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = DatasetSubscriptTests.sample()[8..<12]
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("Dataset[8..<12]") && text.contains("count 10"), "\(text)")
    }

    @Test func partialRangePastTheEndNamesTheRangeAndTheCount() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = DatasetSubscriptTests.sample()[11...]
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("Dataset[11...]") && text.contains("count 10"), "\(text)")
    }

    @Test func closedRangeToIntMaxStopsWithAMessageNotAnOverflow() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = DatasetSubscriptTests.sample()[...Int.max]
        }
        let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(text.contains("Dataset[...\(Int.max)]") && text.contains("count 10"), "\(text)")
    }
}
