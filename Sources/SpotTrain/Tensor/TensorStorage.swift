/// A fixed-size, 64-byte-aligned block of `Float` values owned by one or more ``Tensor``s.
///
/// Storage is a reference type with no copy-on-write: hot loops take its
/// ``pointer`` and work on it directly. Tensors that are reshaped views of each
/// other share one storage.
public final class TensorStorage {
    /// The number of `Float` elements.
    public let count: Int
    /// The first element. Valid for `count` elements for the lifetime of the storage.
    public let pointer: UnsafeMutablePointer<Float>

    /// Allocates uninitialised storage for `count` floats, aligned to 64 bytes.
    ///
    /// - Parameter count: The number of elements (at least 0).
    public init(uninitializedCount count: Int) {
        precondition(count >= 0, "TensorStorage: negative element count \(count)")
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
        self.pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    /// Allocates storage for `count` floats, all set to `value`.
    public convenience init(count: Int, repeating value: Float) {
        self.init(uninitializedCount: count)
        pointer.initialize(repeating: value, count: count)
    }

    deinit {
        UnsafeMutableRawPointer(pointer).deallocate()
    }

    /// The whole storage as a buffer.
    @inlinable
    public var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: pointer, count: count)
    }
}
