/// Loads the MNIST handwritten-digit dataset from the four standard IDX files.
///
/// The directory must contain, raw or gzip-compressed (detected from the content, not the
/// name), one file for each of:
/// `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
/// `t10k-labels-idx1-ubyte`. Each is looked for under its standard name, with `.gz`, and in
/// the dotted variant (`t10k-images.idx3-ubyte`, `.gz`), in that order.
///
/// Images become a `[N, 28, 28, 1]` tensor (NHWC) with pixels divided by 255 into [0, 1];
/// labels become `Int32` class indices in `0...9`.
public enum MNIST {
    /// Image height and width in pixels.
    public static let imageSize = 28
    /// The number of classes.
    public static let classCount = 10

    /// The base names of the four files, in the order train images, train labels, test
    /// images, test labels.
    public static let standardFileNames = [
        "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
    ]

    /// The names under which a file with standard base name `name` is accepted, in the order
    /// they are tried: `name`, `name.gz`, then the dotted variant (`t10k-images.idx3-ubyte`)
    /// and its `.gz`.
    /// - Parameter name: A standard base name such as `t10k-images-idx3-ubyte`.
    /// - Returns: The candidate file names.
    public static func candidateNames(for name: String) -> [String] {
        var names = [name, name + ".gz"]
        if let range = name.ranges(of: "-idx").last {
            var dotted = name
            dotted.replaceSubrange(range, with: ".idx")
            names += [dotted, dotted + ".gz"]
        }
        return names
    }

    /// Finds the path of a file with standard base name `name` in `directory`.
    /// - Parameters:
    ///   - name: A standard base name such as `train-images-idx3-ubyte`.
    ///   - directory: The directory to look in.
    /// - Returns: The path of the first candidate (see ``candidateNames(for:)``) that exists.
    /// - Throws: ``MNISTError`` `.missingFile` listing every name tried.
    public static func locate(_ name: String, in directory: String) throws -> String {
        let candidates = candidateNames(for: name)
        for candidate in candidates {
            let path = join(directory, candidate)
            if ReadOnlyFile.exists(path) { return path }
        }
        throw MNISTError(.missingFile, path: directory,
                         message: "missing MNIST file: none of \(candidates.joined(separator: ", ")) exists in this directory")
    }

    /// Loads the training and test splits.
    ///
    /// - Parameters:
    ///   - directory: The directory holding the four files.
    ///   - trainLimit: Keep only the first `trainLimit` training examples (`nil`: all).
    ///   - testLimit: Keep only the first `testLimit` test examples (`nil`: all).
    ///   - reader: The IDX reader to use (its size limit applies to each file).
    /// - Returns: The training split (60000 examples in the standard files) and the test
    ///   split (10000); images `[N, 28, 28, 1]` in [0, 1], labels in `0...9`.
    /// - Throws: ``MNISTError`` for a missing directory or file, a wrong type or shape, a
    ///   count mismatch or a label outside `0...9`; ``IDXError`` when a file itself is
    ///   unreadable or malformed. Both name the file.
    public static func load(from directory: String, trainLimit: Int? = nil, testLimit: Int? = nil,
                            reader: IDXReader = IDXReader()) throws -> (train: Dataset, test: Dataset) {
        precondition((trainLimit ?? 0) >= 0 && (testLimit ?? 0) >= 0,
                     "MNIST.load: limits must not be negative (trainLimit \(String(describing: trainLimit)), testLimit \(String(describing: testLimit)))")
        guard ReadOnlyFile.isDirectory(directory) else {
            throw MNISTError(.missingDirectory, path: directory, message: "MNIST data directory does not exist or is not a directory")
        }
        // Locate all four first so that a missing file is reported before any decoding.
        let paths = try standardFileNames.map { try locate($0, in: directory) }
        let train = try loadSplit(images: paths[0], labels: paths[1], limit: trainLimit, reader: reader)
        let test = try loadSplit(images: paths[2], labels: paths[3], limit: testLimit, reader: reader)
        return (train, test)
    }

    /// Loads one split from an images file and a labels file.
    ///
    /// Both headers are read and checked against each other first (element type, rank,
    /// `28 × 28` images, the same example count), before either file's data is decoded: a
    /// compressed images file whose header lies about its count is rejected from its first
    /// bytes, without inflating it.
    ///
    /// - Parameters:
    ///   - imagesPath: An IDX file of uint8 `[N, 28, 28]`.
    ///   - labelsPath: An IDX file of uint8 `[N]` with values in `0...9`.
    ///   - limit: Keep only the first `limit` examples (`nil`: all; 0 gives an empty split).
    ///   - reader: The IDX reader to use.
    /// - Returns: The examples, images `[min(N, limit), 28, 28, 1]` divided by 255. `N` may be
    ///   0 (an empty split is a valid file; ``Trainer/fit(train:validation:epochs:batchSize:seed:maxSteps:callbacks:resumeFrom:)``
    ///   refuses an empty training set).
    /// - Throws: ``MNISTError`` or ``IDXError`` as ``load(from:trainLimit:testLimit:reader:)``.
    public static func loadSplit(images imagesPath: String, labels labelsPath: String, limit: Int? = nil,
                                 reader: IDXReader = IDXReader()) throws -> Dataset {
        precondition((limit ?? 0) >= 0, "MNIST.loadSplit: limit \(String(describing: limit)) must not be negative")
        // Headers first: every count and dimension is checked before any data is decoded.
        let labelsHeader = try reader.readHeader(labelsPath)
        try expect(labelsHeader.dataType, labelsHeader.shape, rank: 1, path: labelsPath)
        let imagesHeader = try reader.readHeader(imagesPath)
        try expect(imagesHeader.dataType, imagesHeader.shape, rank: 3, path: imagesPath)
        try checkAgree(images: imagesHeader.shape, labels: labelsHeader.shape, imagesPath: imagesPath, labelsPath: labelsPath)

        let labelsFile = try reader.read(labelsPath)
        try expect(labelsFile.dataType, labelsFile.shape, rank: 1, path: labelsPath)
        let imagesFile = try reader.read(imagesPath)
        try expect(imagesFile.dataType, imagesFile.shape, rank: 3, path: imagesPath)
        // The files may have changed between the two reads: check what was decoded, too.
        try checkAgree(images: imagesFile.shape, labels: labelsFile.shape, imagesPath: imagesPath, labelsPath: labelsPath)
        let n = min(imagesFile.shape[0], limit ?? .max)
        let bytes = labelsFile.data
        var labels = [Int32](repeating: 0, count: n)
        for i in 0..<n {
            let label = bytes[i]
            guard Int(label) < classCount else {
                throw MNISTError(.labelOutOfRange, path: labelsPath,
                                 message: "label \(label) of example \(i) is outside 0...\(classCount - 1)")
            }
            labels[i] = Int32(label)
        }
        let images = imagesFile.makeTensor(shape: [n, imageSize, imageSize, 1], dividingBy: 255)
        return Dataset(images: images, labels: labels)
    }

    private static func checkAgree(images: [Int], labels: [Int], imagesPath: String, labelsPath: String) throws {
        guard images[1] == imageSize, images[2] == imageSize else {
            throw MNISTError(.unexpectedShape, path: imagesPath,
                             message: "images have shape \(images), expected [N, \(imageSize), \(imageSize)]")
        }
        guard images[0] == labels[0] else {
            throw MNISTError(.countMismatch, path: imagesPath,
                             message: "the header says \(images[0]) images but \(labelsPath) says \(labels[0]) labels")
        }
    }

    private static func expect(_ type: IDXDataType, _ shape: [Int], rank: Int, path: String) throws {
        guard type == .uint8 else {
            throw MNISTError(.unexpectedDataType, path: path,
                             message: "element type is \(type), MNIST files hold \(IDXDataType.uint8)")
        }
        guard shape.count == rank else {
            throw MNISTError(.unexpectedShape, path: path,
                             message: "shape \(shape) has rank \(shape.count), expected rank \(rank)")
        }
    }

    private static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }
}
