/// Ready-made models.
public enum Models {
    /// The Keras `mnist_cnn` network for 28×28×1 images and 10 classes:
    ///
    /// `Conv2D(32, 3×3, relu) → Conv2D(64, 3×3, relu) → MaxPool2D(2×2) → Dropout(0.25) →
    /// Flatten → Dense(128, relu) → Dropout(0.5) → Dense(10)` (logits; pair it with
    /// ``SoftmaxCrossEntropy``). 1,199,882 parameters, Glorot-uniform weights, zero biases.
    ///
    /// Layer names: `conv1 conv2 pool1 dropout1 flatten1 dense1 dropout2 dense2`.
    /// - Parameters:
    ///   - rng: Draws the initial weights, and later the dropout masks (keep its state in
    ///     checkpoints).
    ///   - imageSize: Input height and width (default 28).
    ///   - channels: Input channels (default 1).
    ///   - classes: Output classes (default 10).
    /// - Returns: The model.
    public static func mnistCNN(rng: RandomGenerator, imageSize: Int = 28, channels: Int = 1, classes: Int = 10) -> Sequential {
        // Every weighted layer takes its input size from the shapes (the channels of each
        // convolution, 12·12·64 = 9216 for the first dense layer at 28×28) and draws its
        // weights when the model is built, in layer order: the same draws, in the same order,
        // as stating the sizes by hand.
        Sequential(inputShape: [imageSize, imageSize, channels], name: "mnist_cnn") {
            Conv2D(filters: 32, kernelSize: 3, activation: .relu, rng: rng)
            Conv2D(filters: 64, kernelSize: 3, activation: .relu, rng: rng)
            MaxPool2D(poolSize: 2)
            Dropout(rate: 0.25, rng: rng)
            Flatten()
            Dense(units: 128, activation: .relu, rng: rng)
            Dropout(rate: 0.5, rng: rng)
            Dense(units: classes, rng: rng)
        }
    }
}
