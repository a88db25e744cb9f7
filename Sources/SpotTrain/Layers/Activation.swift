/// An elementwise activation that ``Conv2D`` and ``Dense`` can fuse into their bias pass.
public enum Activation: String, Sendable, Codable, CaseIterable {
    /// The identity.
    case linear
    /// `max(x, 0)`.
    case relu
}

/// Returns `existing` if it already has `shape`, or a new uninitialised tensor of that
/// shape. Layers use it to reuse their output and scratch buffers across batches.
@inline(__always)
func reuse(_ existing: inout Tensor?, shape: [Int]) -> Tensor {
    if let t = existing, t.shape == shape { return t }
    let t = Tensor(shape: shape, storage: TensorStorage(uninitializedCount: Tensor.elementCount(shape)))
    existing = t
    return t
}

/// Adds `bias` (length `columns`) to every row of `rows × columns` values at `data` and
/// applies `activation`, in parallel over rows.
func addBiasActivate(_ data: UnsafeMutablePointer<Float>, rows: Int, columns: Int,
                     bias: UnsafePointer<Float>, activation: Activation) {
    Parallel.forChunks(count: rows, minimumChunk: max(1, 16_384 / max(columns, 1))) { range in
        addBiasActivateSerial(data + range.lowerBound * columns, rows: range.count, columns: columns,
                              bias: bias, activation: activation)
    }
}

/// ``addBiasActivate(_:rows:columns:bias:activation:)`` on the calling thread.
@inline(__always)
func addBiasActivateSerial(_ data: UnsafeMutablePointer<Float>, rows: Int, columns: Int,
                           bias: UnsafePointer<Float>, activation: Activation) {
    for r in 0..<rows {
        let row = data + r * columns
        switch activation {
        case .linear:
            for c in 0..<columns { row[c] += bias[c] }
        case .relu:
            for c in 0..<columns { row[c] = max(row[c] + bias[c], 0) }
        }
    }
}

/// Writes into `out` the gradient before the activation: `gradient * f'(pre)` computed from
/// the activation's output (for ReLU: pass where the output is positive). Returns
/// `gradient` itself for `.linear`.
func activationBackward(_ activation: Activation, output: Tensor, gradient: Tensor,
                        scratch: inout Tensor?) -> Tensor {
    switch activation {
    case .linear:
        return gradient
    case .relu:
        let out = reuse(&scratch, shape: gradient.shape)
        let y = output.pointer, g = gradient.pointer, d = out.pointer
        Parallel.forChunks(count: gradient.count, minimumChunk: 1 << 16) { range in
            reluMask(output: y + range.lowerBound, gradient: g + range.lowerBound,
                         into: d + range.lowerBound, count: range.count)
        }
        return out
    }
}

/// Sums the rows of a `rows × columns` matrix into `into` (accumulating), in Double for
/// accuracy and in a fixed order (so the result does not depend on the thread count).
func accumulateColumnSums(_ data: UnsafePointer<Float>, rows: Int, columns: Int,
                          into: UnsafeMutablePointer<Float>) {
    // Parallel over column blocks; each column summed in row order by one thread.
    Parallel.forChunks(count: columns, minimumChunk: max(1, columns / 8)) { range in
        let width = range.count
        var sums = [Double](repeating: 0, count: width)
        sums.withUnsafeMutableBufferPointer { s in
            for r in 0..<rows {
                let row = data + r * columns + range.lowerBound
                for c in 0..<width { s[c] += Double(row[c]) }
            }
            for c in 0..<width { into[range.lowerBound + c] += Float(s[c]) }
        }
    }
}

/// `into[i] = output[i] > 0 ? gradient[i] : 0`: ReLU's backward pass from its output.
///
/// Both values are loaded unconditionally so that the compiler turns the choice into a
/// vector select (a conditional load keeps the loop scalar and branchy, ~8x slower).
@inline(__always)
func reluMask(output: UnsafePointer<Float>, gradient: UnsafePointer<Float>,
              into: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count {
        let g = gradient[i], y = output[i]
        into[i] = y > 0 ? g : 0
    }
}
