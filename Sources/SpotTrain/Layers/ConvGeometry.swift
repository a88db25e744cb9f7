/// How a convolution or pooling window treats the border.
public enum Padding: String, Sendable, Codable {
    /// No padding: only windows that fit entirely inside the input.
    case valid
    /// Zero padding so that `output = ceil(input / stride)`; when the total padding is odd
    /// the extra row/column goes at the bottom/right (TensorFlow's convention).
    case same
}

/// The geometry of a 2-D window sliding over an NHWC image.
public struct ConvGeometry: Equatable, Sendable {
    /// Input height and width.
    public let inputHeight: Int, inputWidth: Int
    /// Window height and width.
    public let kernelHeight: Int, kernelWidth: Int
    /// Step between windows.
    public let strideY: Int, strideX: Int
    /// Zero rows above and columns left of the input.
    public let padTop: Int, padLeft: Int
    /// Output height and width.
    public let outputHeight: Int, outputWidth: Int

    /// Computes the geometry.
    /// - Parameters:
    ///   - inputHeight: Rows of the input.
    ///   - inputWidth: Columns of the input.
    ///   - kernel: `(height, width)` of the window.
    ///   - stride: `(y, x)` step.
    ///   - padding: Border treatment.
    public init(inputHeight: Int, inputWidth: Int, kernel: (Int, Int), stride: (Int, Int), padding: Padding) {
        self.inputHeight = inputHeight
        self.inputWidth = inputWidth
        (kernelHeight, kernelWidth) = kernel
        (strideY, strideX) = stride
        switch padding {
        case .valid:
            outputHeight = inputHeight >= kernel.0 ? (inputHeight - kernel.0) / stride.0 + 1 : 0
            outputWidth = inputWidth >= kernel.1 ? (inputWidth - kernel.1) / stride.1 + 1 : 0
            padTop = 0
            padLeft = 0
        case .same:
            outputHeight = (inputHeight + stride.0 - 1) / stride.0
            outputWidth = (inputWidth + stride.1 - 1) / stride.1
            padTop = max((outputHeight - 1) * stride.0 + kernel.0 - inputHeight, 0) / 2
            padLeft = max((outputWidth - 1) * stride.1 + kernel.1 - inputWidth, 0) / 2
        }
    }
}
