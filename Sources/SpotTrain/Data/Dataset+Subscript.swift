extension Dataset {
    /// One example and its label, copied out of the dataset.
    ///
    /// The image has ``exampleShape`` (no batch dimension); for ``Layer/predict(_:batchSize:)-(Tensor,_)``
    /// on one example use `dataset[i..<i + 1]` or `image.reshaped([1] + image.shape)`.
    /// - Parameter index: An example index in `0..<count`.
    /// - Returns: A new tensor of ``exampleShape`` and the class index.
    public subscript(index: Int) -> (image: Tensor, label: Int32) {
        precondition(index >= 0 && index < count, "Dataset[\(index)]: index is outside 0..<\(count) (count \(count))")
        let image = Tensor(shape: exampleShape, storage: TensorStorage(uninitializedCount: exampleSize))
        if exampleSize > 0 { image.pointer.update(from: images.pointer + index * exampleSize, count: exampleSize) }
        return (image, labels[index])
    }

    /// The examples in `range`, in order, as a new dataset (copied).
    /// - Parameter range: Indices within `0..<count`, such as `0..<100`.
    /// - Returns: A dataset of `range.count` examples.
    public subscript(range: Range<Int>) -> Dataset {
        slice(range.lowerBound, range.upperBound, "\(range.lowerBound)..<\(range.upperBound)")
    }

    /// The examples in `range`, in order, as a new dataset (copied).
    /// - Parameter range: Indices within `0..<count`, such as `0...99`.
    /// - Returns: A dataset of `range.count` examples.
    public subscript(range: ClosedRange<Int>) -> Dataset {
        let text = "\(range.lowerBound)...\(range.upperBound)"
        precondition(range.upperBound < count, "Dataset[\(text)]: range is outside 0..<\(count) (count \(count))")
        return slice(range.lowerBound, range.upperBound + 1, text)
    }

    /// The examples from `range.lowerBound` to the end, as a new dataset (copied).
    /// - Parameter range: `a...` with `a` in `0...count`.
    /// - Returns: A dataset of `count - a` examples.
    public subscript(range: PartialRangeFrom<Int>) -> Dataset {
        let text = "\(range.lowerBound)..."
        precondition(range.lowerBound <= count, "Dataset[\(text)]: range is outside 0..<\(count) (count \(count))")
        return slice(range.lowerBound, count, text)
    }

    /// The first `range.upperBound` examples, as a new dataset (copied).
    /// - Parameter range: `..<b` with `b` in `0...count`.
    /// - Returns: A dataset of `b` examples.
    public subscript(range: PartialRangeUpTo<Int>) -> Dataset {
        slice(0, range.upperBound, "..<\(range.upperBound)")
    }

    /// The examples up to and including `range.upperBound`, as a new dataset (copied).
    /// - Parameter range: `...b` with `b` in `-1..<count`.
    /// - Returns: A dataset of `b + 1` examples.
    public subscript(range: PartialRangeThrough<Int>) -> Dataset {
        let text = "...\(range.upperBound)"
        precondition(range.upperBound < count, "Dataset[\(text)]: range is outside 0..<\(count) (count \(count))")
        return slice(0, range.upperBound + 1, text)
    }

    /// Examples `lower..<upper` copied into a new dataset; `text` is how the caller wrote the range.
    private func slice(_ lower: Int, _ upper: Int, _ text: String) -> Dataset {
        precondition(lower >= 0 && lower <= upper && upper <= count,
                     "Dataset[\(text)]: range is outside 0..<\(count) (count \(count))")
        let n = upper - lower
        let shape = [n] + exampleShape
        let out = Tensor(shape: shape, storage: TensorStorage(uninitializedCount: Tensor.elementCount(shape)))
        if out.count > 0 { out.pointer.update(from: images.pointer + lower * exampleSize, count: out.count) }
        return Dataset(images: out, labels: Array(labels[lower..<upper]))
    }
}
