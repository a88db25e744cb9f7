extension Checkpoint {
    /// The first NaN or infinite value among the tensors, in file order, or `nil` when every
    /// value is finite.
    ///
    /// ``ModelCheckpoint`` calls this before every save, so that no checkpoint of a diverged
    /// run is written; custom loops that save with ``CheckpointDirectory/save(_:)`` directly
    /// should do the same. It reads every element once (O(parameters), no allocation).
    /// - Returns: The tensor's name, the element's flat index and the value.
    public func firstNonFiniteValue() -> (tensor: String, index: Int, value: Float)? {
        for named in tensors {
            let t = named.tensor
            let n = t.count
            guard n > 0 else { continue }
            let p = t.pointer
            // x - x is 0 for every finite x and NaN for NaN and ±infinity; the sum over a
            // block stays finite only if every element was finite (no branch per element).
            var start = 0
            while start < n {
                let end = min(start + 4096, n)
                var sum: Float = 0
                for i in start..<end { sum += p[i] - p[i] }
                if !sum.isFinite || sum != 0 {
                    for i in start..<end where !p[i].isFinite { return (named.name, i, p[i]) }
                }
                start = end
            }
        }
        return nil
    }
}
