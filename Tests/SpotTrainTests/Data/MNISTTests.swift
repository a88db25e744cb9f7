import Foundation
import Testing
import SpotTrain

@Suite struct MNISTTests {
    /// Writes a small MNIST-shaped directory: `trainCount`/`testCount` images whose pixel
    /// (0, 0) is `51 * (i % 6)` and whose label is `i % 10`.
    static func writeDirectory(_ dir: TemporaryDirectory, trainCount: Int = 12, testCount: Int = 5,
                               compressed: Bool = true, dotted: Bool = false,
                               trainLabels: [UInt8]? = nil, imageSide: UInt32 = 28) throws {
        func images(_ n: Int) -> [UInt8] {
            let side = Int(imageSide)
            var data = [UInt8](repeating: 0, count: n * side * side)
            for i in 0..<n {
                data[i * side * side] = UInt8(51 * (i % 6))
                data[i * side * side + side * side - 1] = UInt8(i)
            }
            return IDXFixture.file(typeCode: 0x08, shape: [UInt32(n), imageSide, imageSide], data: data)
        }
        func labels(_ n: Int) -> [UInt8] {
            IDXFixture.file(typeCode: 0x08, shape: [UInt32(n)], data: (0..<n).map { UInt8($0 % 10) })
        }
        let files: [(String, [UInt8])] = [
            ("train-images-idx3-ubyte", images(trainCount)),
            ("train-labels-idx1-ubyte", trainLabels.map { IDXFixture.file(typeCode: 0x08, shape: [UInt32($0.count)], data: $0) } ?? labels(trainCount)),
            ("t10k-images-idx3-ubyte", images(testCount)),
            ("t10k-labels-idx1-ubyte", labels(testCount)),
        ]
        for (name, bytes) in files {
            let base = dotted ? name.replacingOccurrences(of: "-idx", with: ".idx") : name
            if compressed {
                try dir.write(base + ".gz", IDXFixture.gzip(bytes))
            } else {
                try dir.write(base, bytes)
            }
        }
    }

    @Test(arguments: [(true, false), (false, false), (true, true), (false, true)])
    func loadsBothSplitsScaledToUnitRange(compressed: Bool, dotted: Bool) throws {
        let dir = try TemporaryDirectory()
        try Self.writeDirectory(dir, compressed: compressed, dotted: dotted)
        let (train, test) = try MNIST.load(from: dir.path)
        #expect(train.count == 12)
        #expect(test.count == 5)
        #expect(train.images.shape == [12, 28, 28, 1])
        #expect(train.exampleShape == [28, 28, 1])
        #expect(train.labels == (0..<12).map { Int32($0 % 10) })
        #expect(train.images[2, 0, 0, 0] == 0.4)
        #expect(train.images[5, 0, 0, 0] == 1.0)
        #expect(train.images[7, 27, 27, 0] == Float(7) / 255)
        #expect(test.images[4, 0, 0, 0] == Float(204) / 255)
    }

    @Test func limitsKeepTheFirstExamples() throws {
        let dir = try TemporaryDirectory()
        try Self.writeDirectory(dir)
        let (train, test) = try MNIST.load(from: dir.path, trainLimit: 3, testLimit: 100)
        #expect(train.count == 3)
        #expect(train.images.shape == [3, 28, 28, 1])
        #expect(train.labels == [0, 1, 2])
        #expect(train.images[2, 27, 27, 0] == Float(2) / 255)
        #expect(test.count == 5)
        let (none, _) = try MNIST.load(from: dir.path, trainLimit: 0)
        #expect(none.count == 0)
    }

    @Test func candidateNamesIncludeGzipAndDottedVariants() {
        #expect(MNIST.candidateNames(for: "t10k-images-idx3-ubyte") ==
                ["t10k-images-idx3-ubyte", "t10k-images-idx3-ubyte.gz", "t10k-images.idx3-ubyte", "t10k-images.idx3-ubyte.gz"])
    }

    @Test func loadRejectsMissingDirectory() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/absent"
        let error = try #require(throws: MNISTError.self) { try MNIST.load(from: path) }
        #expect(error.code == .missingDirectory)
        #expect(error.description.contains(path))
    }

    @Test func loadRejectsMissingFileListingTheNamesTried() throws {
        let dir = try TemporaryDirectory()
        try Self.writeDirectory(dir)
        try FileManager.default.removeItem(atPath: dir.path + "/t10k-labels-idx1-ubyte.gz")
        let error = try #require(throws: MNISTError.self) { try MNIST.load(from: dir.path) }
        #expect(error.code == .missingFile)
        #expect(error.path == dir.path)
        for name in MNIST.candidateNames(for: "t10k-labels-idx1-ubyte") {
            #expect(error.message.contains(name))
        }
    }

    @Test func loadRejectsCountMismatch() throws {
        let dir = try TemporaryDirectory()
        try Self.writeDirectory(dir, trainLabels: Array(repeating: 1, count: 11))
        let error = try #require(throws: MNISTError.self) { try MNIST.load(from: dir.path) }
        #expect(error.code == .countMismatch)
        #expect(error.path.hasSuffix("train-images-idx3-ubyte.gz"))
        #expect(error.message.contains("12") && error.message.contains("11"))
    }

    @Test func loadRejectsLabelOutOfRange() throws {
        let dir = try TemporaryDirectory()
        var labels = [UInt8](repeating: 3, count: 12)
        labels[9] = 10
        try Self.writeDirectory(dir, trainLabels: labels)
        let error = try #require(throws: MNISTError.self) { try MNIST.load(from: dir.path) }
        #expect(error.code == .labelOutOfRange)
        #expect(error.path.hasSuffix("train-labels-idx1-ubyte.gz"))
        #expect(error.message.contains("label 10 of example 9"))
    }

    @Test func loadRejectsWrongImageShapeAndType() throws {
        let dir = try TemporaryDirectory()
        try Self.writeDirectory(dir, imageSide: 27)
        let shape = try #require(throws: MNISTError.self) { try MNIST.load(from: dir.path) }
        #expect(shape.code == .unexpectedShape)
        #expect(shape.path.hasSuffix("train-images-idx3-ubyte.gz"))

        let other = try TemporaryDirectory()
        try Self.writeDirectory(other)
        try other.write("train-labels-idx1-ubyte.gz", IDXFixture.gzip(IDXFixture.file(typeCode: 0x0C, shape: [12], data: Array(repeating: 0, count: 48))))
        let type = try #require(throws: MNISTError.self) { try MNIST.load(from: other.path) }
        #expect(type.code == .unexpectedDataType)
        #expect(type.description.contains("train-labels-idx1-ubyte.gz"))
    }

    @Test func loadPassesOnFileErrors() throws {
        let dir = try TemporaryDirectory()
        try Self.writeDirectory(dir)
        try dir.write("t10k-images-idx3-ubyte.gz", Array(try IDXFixture.gzip(IDXFixture.file(typeCode: 0x08, shape: [5, 28, 28], data: [])).dropLast(8)))
        let error = try #require(throws: IDXError.self) { try MNIST.load(from: dir.path) }
        #expect(error.path.hasSuffix("t10k-images-idx3-ubyte.gz"))
    }

    // MARK: The real data set

    /// The real MNIST, first found of: `SPOTTRAIN_MNIST_DIR`, the package's own `Data/mnist`
    /// (shipped with the repository), `../shared/data/mnist` next to the package root.
    static let realDirectory: String? = {
        if let dir = ProcessInfo.processInfo.environment["SPOTTRAIN_MNIST_DIR"] { return dir }
        // #filePath is <root>/Tests/SpotTrainTests/Data/MNISTTests.swift.
        let root = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()   // Data
            .deletingLastPathComponent()   // SpotTrainTests
            .deletingLastPathComponent()   // Tests
            .deletingLastPathComponent()   // package root
        for relative in ["Data/mnist", "../shared/data/mnist"] {
            let dir = root.appendingPathComponent(relative).standardizedFileURL.path
            if FileManager.default.fileExists(atPath: dir + "/train-labels-idx1-ubyte.gz") { return dir }
        }
        return nil
    }()

    @Test(.enabled(if: realDirectory != nil,
                   "MNIST not found: set SPOTTRAIN_MNIST_DIR, or restore Data/mnist in the package"))
    func loadsRealMNIST() throws {
        let (train, test) = try MNIST.load(from: try #require(Self.realDirectory))
        #expect(train.count == 60000)
        #expect(test.count == 10000)
        #expect(train.images.shape == [60000, 28, 28, 1])
        #expect(test.images.shape == [10000, 28, 28, 1])
        #expect(train.labels.filter { $0 == 0 }.count == 5923)
        #expect(test.labels.filter { $0 == 0 }.count == 980)
        #expect(Set(train.labels) == Set(0...9))
        for dataset in [train, test] {
            let pixels = dataset.images.buffer
            #expect(pixels.min() == 0)
            #expect(pixels.max() == 1)
        }
    }
}
