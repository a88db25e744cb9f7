import CZlib

/// Little-endian field access and assembly for the checkpoint format.
enum CheckpointBytes {
    /// Reads a little-endian unsigned integer at `offset`; the caller has checked bounds.
    @inline(__always)
    static func load<T: FixedWidthInteger & UnsignedInteger>(_ type: T.Type, _ bytes: UnsafeRawBufferPointer, at offset: Int) -> T {
        precondition(offset >= 0 && offset + MemoryLayout<T>.size <= bytes.count,
                     "CheckpointBytes.load: \(MemoryLayout<T>.size) bytes at \(offset) exceed \(bytes.count)")
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    /// Appends a little-endian unsigned integer.
    @inline(__always)
    static func append<T: FixedWidthInteger & UnsignedInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// Overwrites a little-endian unsigned integer at `offset`.
    static func store<T: FixedWidthInteger & UnsignedInteger>(_ value: T, in bytes: inout [UInt8], at offset: Int) {
        withUnsafeBytes(of: value.littleEndian) { raw in
            for (i, b) in raw.enumerated() { bytes[offset + i] = b }
        }
    }

    /// The CRC-32 of A‖B from the CRCs of A and B and the length of B (zlib's `crc32_combine`).
    static func combine(_ first: UInt32, _ second: UInt32, secondLength: Int) -> UInt32 {
        UInt32(truncatingIfNeeded: crc32_combine(UInt(first), UInt(second), Int(secondLength)))
    }
}

/// The number of threads ``forEachBalanced(costs:_:)`` uses for `count` items.
func balancedWorkerCount(_ count: Int) -> Int {
    max(1, min(Threading.threads, count))
}

/// Runs `work(index, worker)` for every index in `0..<costs.count` on
/// ``balancedWorkerCount(_:)`` threads, giving each thread a similar total cost (largest
/// item first to the least-loaded thread). Each index is processed exactly once; `worker`
/// identifies the thread (0..<workers) so that callers can keep per-thread scratch state.
/// `work` must only write state owned by its index or its worker.
func forEachBalanced(costs: [Int], _ work: (_ index: Int, _ worker: Int) -> Void) {
    let workers = balancedWorkerCount(costs.count)
    if workers <= 1 {
        for i in costs.indices { work(i, 0) }
        return
    }
    var assignment = [[Int]](repeating: [], count: workers)
    var load = [Int](repeating: 0, count: workers)
    for i in costs.indices.sorted(by: { costs[$0] > costs[$1] }) {
        let w = load.indices.min { load[$0] < load[$1] }!
        assignment[w].append(i)
        load[w] += max(costs[i], 1)
    }
    Parallel.forChunks(count: workers, minimumChunk: 1) { range in
        for w in range {
            for i in assignment[w] { work(i, w) }
        }
    }
}
