extension Layer {
    /// Runs the model over `inputs` in inference mode (dropout off), a batch at a time, and
    /// returns its outputs as they are: for a classifier such as ``Models/mnistCNN(rng:imageSize:channels:classes:)``
    /// these are **logits**, as with Keras's `predict`; apply ``Tensor/softmax()`` for
    /// probabilities and ``Tensor/argmax()`` for classes.
    ///
    /// Memory: besides the result, at most one batch of `batchSize` examples (and one for a
    /// partial last batch) is copied and passed through the layers, whatever `inputs.count`.
    /// No ``Trainer`` is needed. The layers' cached activations are overwritten, so do not call
    /// this between a training ``forward(_:training:)`` and its ``backward(_:)``.
    /// - Parameters:
    ///   - inputs: `[n, ...]`, example first, each example of the model's input shape
    ///     (`[n, height, width, channels]` for images); `n` may be 0.
    ///   - batchSize: Examples per forward pass (default 500), at least 1.
    /// - Returns: A new tensor `[n] + outputShape` (for a classifier `[n, classes]`).
    public func predict(_ inputs: Tensor, batchSize: Int = 500) -> Tensor {
        precondition(batchSize > 0, "\(type(of: self)) \(name).predict: batchSize \(batchSize) must be positive")
        precondition(inputs.rank >= 1, "\(type(of: self)) \(name).predict: inputs shape \(inputs.shape) has no example dimension")
        let n = inputs.shape[0]
        let example = Array(inputs.shape.dropFirst())
        let exampleSize = Tensor.elementCount(example)
        let outputExample = Array(outputShape(for: [1] + example).dropFirst())
        let outputSize = Tensor.elementCount(outputExample)
        let result = Tensor(shape: [n] + outputExample,
                            storage: TensorStorage(uninitializedCount: Tensor.elementCount([n] + outputExample)))
        if n <= batchSize {
            if n > 0 { copyOutput(forward(inputs, training: false), rows: n, expected: outputExample, into: result.pointer) }
            return result
        }
        var chunk: Tensor?
        var start = 0
        while start < n {
            let rows = min(batchSize, n - start)
            let input = reuse(&chunk, shape: [rows] + example)
            input.pointer.update(from: inputs.pointer + start * exampleSize, count: rows * exampleSize)
            copyOutput(forward(input, training: false), rows: rows, expected: outputExample,
                       into: result.pointer + start * outputSize)
            start += rows
        }
        return result
    }

    /// Runs the model over every example of `dataset` in inference mode (see
    /// ``predict(_:batchSize:)-(Tensor,_)``); the labels are not used.
    /// - Parameters:
    ///   - dataset: The examples; may be empty.
    ///   - batchSize: Examples per forward pass (default 500), at least 1.
    /// - Returns: A new tensor `[dataset.count] + outputShape`: logits for a classifier.
    public func predict(_ dataset: Dataset, batchSize: Int = 500) -> Tensor {
        predict(dataset.images, batchSize: batchSize)
    }

    /// Copies one batch's output into the result, checking it has the shape
    /// ``outputShape(for:)`` promised.
    private func copyOutput(_ output: Tensor, rows: Int, expected: [Int], into destination: UnsafeMutablePointer<Float>) {
        precondition(output.rank == expected.count + 1 && output.shape[0] == rows
                        && output.shape.dropFirst().elementsEqual(expected),
                     "\(type(of: self)) \(name).predict: forward returned shape \(output.shape), "
                        + "but outputShape(for:) promised [\(rows)] + \(expected)")
        destination.update(from: output.pointer, count: output.count)
    }
}
