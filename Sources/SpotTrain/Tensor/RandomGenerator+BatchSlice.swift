/// The rows of a global batch that this process computes, in data-parallel training.
///
/// A global batch of ``globalRows`` examples is split across processes; this process
/// computes rows ``firstRow`` `..<` ``firstRow`` `+` ``rows``. Per-example random draws
/// (dropout masks) are taken from the global stream at those rows' positions, so the masks do
/// not depend on how many processes share the batch (see
/// ``RandomGenerator/fillUniform(_:rows:)``).
public struct BatchSlice: Sendable, Equatable {
    /// The first row of the global batch that this process computes.
    public var firstRow: Int
    /// The number of rows this process computes.
    public var rows: Int
    /// The number of rows in the whole (global) batch.
    public var globalRows: Int

    /// Creates a slice.
    /// - Parameters:
    ///   - firstRow: The first row computed here, in `0...globalRows - rows`.
    ///   - rows: The rows computed here, at least 1.
    ///   - globalRows: The rows of the global batch.
    public init(firstRow: Int, rows: Int, globalRows: Int) {
        precondition(rows >= 1 && firstRow >= 0 && firstRow + rows <= globalRows,
                     "BatchSlice: rows \(firstRow)..<\(firstRow + rows) are not inside a global batch of \(globalRows)")
        self.firstRow = firstRow
        self.rows = rows
        self.globalRows = globalRows
    }

    /// The share of a global batch of `globalRows` rows that shard `index` of `count` computes:
    /// rows `globalRows·index/count ..< globalRows·(index+1)/count` (balanced, in shard order).
    /// - Parameters:
    ///   - globalRows: The rows of the global batch.
    ///   - index: The shard (the rank), in `0..<count`.
    ///   - count: The number of shards (the world size).
    /// - Returns: The row range; empty when `globalRows < count` and this shard gets no row.
    public static func rowRange(globalRows: Int, shard index: Int, of count: Int) -> Range<Int> {
        precondition(count >= 1 && index >= 0 && index < count && globalRows >= 0,
                     "BatchSlice.rowRange: shard \(index) of \(count) for \(globalRows) rows")
        return (globalRows * index / count)..<(globalRows * (index + 1) / count)
    }
}

extension RandomGenerator {
    /// Fills `buffer`, the per-example values of a batch of `rows` rows (row-major, the same
    /// number of values per row), with uniform values in `[0, 1)`.
    ///
    /// Without a ``batchSlice`` this is exactly ``fillUniform(_:lower:upper:)``. With one,
    /// `rows` must equal the slice's ``BatchSlice/rows``: the values are those that a single
    /// process drawing for the whole global batch would have put at rows
    /// ``BatchSlice/firstRow`` `..<` `firstRow + rows`, and the state ends where that process's
    /// would (after `globalRows × valuesPerRow` draws). SplitMix64 draw *k* is a function of
    /// `state + k·γ`, so skipping ahead costs nothing.
    /// - Parameters:
    ///   - buffer: `rows × valuesPerRow` values.
    ///   - rows: The rows in `buffer` (its first dimension).
    public func fillUniform(_ buffer: UnsafeMutableBufferPointer<Float>, rows: Int) {
        guard let slice = batchSlice else {
            fillUniform(buffer)
            return
        }
        precondition(rows == slice.rows && rows > 0 && buffer.count % rows == 0,
                     "RandomGenerator.fillUniform: \(buffer.count) values in \(rows) rows do not match the batch slice \(slice)")
        let perRow = buffer.count / rows
        let base = state
        state = base &+ UInt64(truncatingIfNeeded: slice.firstRow * perRow) &* RandomGenerator.increment
        fillUniform(buffer)
        state = base &+ UInt64(truncatingIfNeeded: slice.globalRows * perRow) &* RandomGenerator.increment
    }
}
