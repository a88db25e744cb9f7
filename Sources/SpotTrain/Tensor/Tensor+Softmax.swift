extension Tensor {
    /// The softmax along the last axis, as a new tensor of the same shape:
    /// `softmax(z)[…, k] = exp(z[…, k] − m) / Σ_j exp(z[…, j] − m)` with `m` the row's
    /// maximum, so any finite logits give finite probabilities that sum to 1 (up to
    /// rounding) and no `exp` overflows.
    ///
    /// Rows with `+∞` entries share the probability equally among them; a row with a NaN,
    /// or whose entries are all `−∞`, becomes NaN (nothing is invented).
    /// - Returns: `[…, classes]` probabilities, for logits `[…, classes]` (rank at least 1).
    public func softmax() -> Tensor {
        let k = lastAxisExtent("softmax")
        let out = Tensor(shape: shape, storage: TensorStorage(uninitializedCount: count))
        guard count > 0 else { return out }
        let z = pointer, p = out.pointer
        for row in 0..<(count / k) {
            let zr = z + row * k, pr = p + row * k
            var m = zr[0]
            for j in 1..<k where zr[j] > m || zr[j].isNaN { m = zr[j]; if m.isNaN { break } }
            if m == .infinity {
                var infinite: Float = 0
                for j in 0..<k where zr[j] == .infinity { infinite += 1 }
                for j in 0..<k { pr[j] = zr[j] == .infinity ? 1 / infinite : 0 }
                continue
            }
            var sum: Float = 0
            for j in 0..<k {
                let e = _expf(zr[j] - m)
                pr[j] = e
                sum += e
            }
            let inverse = 1 / sum
            for j in 0..<k { pr[j] *= inverse }
        }
        return out
    }

    /// The index of the largest entry along the last axis, for each position of the other
    /// axes in row-major order: for logits `[n, classes]`, the `n` predicted classes.
    ///
    /// Ties go to the first maximum (as ``Metrics/correctCount(logits:labels:)`` counts); a NaN
    /// counts as the largest value, so a NaN row shows up instead of hiding behind a class.
    /// - Returns: `count / classes` indices in `0..<classes` (one for a rank-1 tensor).
    public func argmax() -> [Int] {
        let k = lastAxisExtent("argmax")
        guard count > 0 else { return [] }
        let z = pointer
        return (0..<(count / k)).map { row in
            let zr = z + row * k
            var best = 0
            if zr[0].isNaN { return 0 }
            for j in 1..<k {
                if zr[j].isNaN { return j }
                if zr[j] > zr[best] { best = j }
            }
            return best
        }
    }

    /// The extent of the last axis, which must exist and be positive unless the tensor is
    /// empty through another axis.
    private func lastAxisExtent(_ operation: String) -> Int {
        precondition(rank >= 1, "Tensor.\(operation): shape \(shape) has no axis")
        let k = shape[rank - 1]
        precondition(k > 0 || count == 0 && shape.dropLast().contains(0),
                     "Tensor.\(operation): shape \(shape) has an empty last axis")
        return k
    }
}
