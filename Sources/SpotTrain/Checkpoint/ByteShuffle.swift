/// The byte-shuffle filter (as in HDF5 and Blosc) used before deflate.
///
/// For `n` elements of `k` bytes, shuffled byte `j·n + i` is byte `j` of element `i`: all
/// first bytes, then all second bytes, and so on. Bytes past the last whole element are
/// copied unchanged.
public enum ByteShuffle {
    /// Shuffles `source` into `destination`.
    /// - Parameters:
    ///   - source: `n·elementSize (+ remainder)` bytes.
    ///   - destination: The same number of bytes; must not overlap `source`.
    ///   - elementSize: Bytes per element (at least 1).
    public static func shuffle(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer,
                               elementSize: Int) {
        precondition(source.count == destination.count,
                     "ByteShuffle.shuffle: source has \(source.count) bytes, destination \(destination.count)")
        precondition(elementSize >= 1, "ByteShuffle.shuffle: element size \(elementSize) must be positive")
        guard let src = source.baseAddress?.assumingMemoryBound(to: UInt8.self),
              let dst = destination.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        let n = source.count / elementSize
        for j in 0..<elementSize {
            let out = dst + j * n
            var p = src + j
            for i in 0..<n {
                out[i] = p.pointee
                p += elementSize
            }
        }
        let tail = n * elementSize
        for i in tail..<source.count { dst[i] = src[i] }
    }

    /// Undoes ``shuffle(_:into:elementSize:)``.
    /// - Parameters:
    ///   - source: Shuffled bytes.
    ///   - destination: Receives the original bytes; same size, must not overlap `source`.
    ///   - elementSize: Bytes per element (at least 1).
    public static func unshuffle(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer,
                                 elementSize: Int) {
        precondition(source.count == destination.count,
                     "ByteShuffle.unshuffle: source has \(source.count) bytes, destination \(destination.count)")
        precondition(elementSize >= 1, "ByteShuffle.unshuffle: element size \(elementSize) must be positive")
        guard let src = source.baseAddress?.assumingMemoryBound(to: UInt8.self),
              let dst = destination.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        let n = source.count / elementSize
        for j in 0..<elementSize {
            let input = src + j * n
            var p = dst + j
            for i in 0..<n {
                p.pointee = input[i]
                p += elementSize
            }
        }
        let tail = n * elementSize
        for i in tail..<source.count { dst[i] = src[i] }
    }
}
