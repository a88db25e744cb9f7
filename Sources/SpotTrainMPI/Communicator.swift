import CMPI
import SpotTrain
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The processes of an MPI job (`MPI_COMM_WORLD`): rank, size, and the few collectives that
/// data-parallel training needs.
///
/// Start MPI once per process with ``world()`` and end it with ``finalize()``. MPI calls are
/// made from one thread only (the training thread; `MPI_THREAD_FUNNELED`); the kernels' worker
/// threads never call MPI. (It is `Sendable` only so that ``world()`` can keep it; use it
/// from the thread that created it.) Failures are returned (`MPI_ERRORS_RETURN`) and thrown as
/// ``MPIError`` with MPI's message, rather than aborting the job from inside MPI, so that the
/// caller decides; note that when a *peer* dies, `mpirun` usually ends the whole job itself.
///
/// ``sumInRankOrder(_:)`` is deterministic: the result is bit-identical from run to run and
/// does not depend on the algorithm MPI picks, because MPI only moves bytes
/// (`MPI_Alltoallv` and `MPI_Allgatherv`) and the ranks add the buffers themselves, in rank
/// order.
public final class Communicator: @unchecked Sendable {
    /// How ``sumInRankOrder(_:)`` moves the data; all give the same bits.
    public enum SumAlgorithm: String, Sendable, CaseIterable {
        /// Rank `j` owns the `j`-th of `size` contiguous slices of the buffer: every rank
        /// sends each owner its slice (`MPI_Alltoallv`), each owner adds its slice's `size`
        /// copies in rank order, and the summed slices are shared (`MPI_Allgatherv`, in
        /// place). Each rank receives about `2 × count × (size − 1) / size` values and adds
        /// only `1/size` of them: the default, and the fastest here (`Docs/Performance.md`).
        case reduceScatter = "reduce-scatter"
        /// Every rank gathers every rank's buffer (`MPI_Allgather`) and adds them in rank
        /// order: one exchange; each rank receives `(size − 1) × count` values.
        case allgather
        /// Rank 0 gathers the buffers (`MPI_Gather`), adds them in rank order and broadcasts
        /// the sum (`MPI_Bcast`): two exchanges in sequence; only rank 0 adds.
        case gatherBroadcast = "gather-broadcast"
    }

    /// This process's rank, in `0..<size`.
    public let rank: Int
    /// The number of processes.
    public let size: Int
    /// Whether this is rank 0, the rank that writes files and prints.
    public var isRoot: Bool { rank == 0 }
    /// How ``sumInRankOrder(_:)`` moves the data.
    public var sumAlgorithm: SumAlgorithm = .reduceScatter

    private let comm: MPI_Comm?
    private var gathered: [Float] = []
    /// `MPI_Alltoallv`/`MPI_Allgatherv` counts and offsets of ``SumAlgorithm/reduceScatter``,
    /// kept so that a step allocates nothing.
    /// (Keyed by buffer length: a reducer sums a few buffers of different lengths per step.)
    private var slicesByLength: [Int: Slices] = [:]

    private struct Slices {
        /// Values of each rank's slice, and where each slice starts.
        let sizes: [Int32], offsets: [Int32]
        /// This rank's slice from every rank: counts and places in ``gathered``.
        let receiveSizes: [Int32], receiveOffsets: [Int32]
    }

    private static let started = Mutex<Communicator?>(nil)

    private init(comm: MPI_Comm?, rank: Int, size: Int) {
        self.comm = comm
        self.rank = rank
        self.size = size
    }

    /// Starts MPI (the first call) and returns the world communicator.
    /// - Returns: The same communicator on every call.
    /// - Throws: ``MPIError`` `.initializationFailed` if MPI cannot start (for example when
    ///   it was finalized already), `.threadSupport` if it lacks `MPI_THREAD_FUNNELED`.
    public static func world() throws -> Communicator {
        try started.withLock { existing in
            if let existing { return existing }
            var finalized: Int32 = 0
            MPI_Finalized(&finalized)
            guard finalized == 0 else {
                throw MPIError(.initializationFailed, function: "MPI_Init_thread", message: "MPI was already finalized in this process")
            }
            var provided: Int32 = 0
            let rc = MPI_Init_thread(nil, nil, cmpi_thread_funneled(), &provided)
            guard rc == cmpi_success() else {
                throw MPIError(.initializationFailed, function: "MPI_Init_thread", mpiCode: rc,
                               message: "cannot start MPI: \(errorString(rc))")
            }
            guard provided >= cmpi_thread_funneled() else {
                throw MPIError(.threadSupport, function: "MPI_Init_thread",
                               message: "MPI provides thread level \(provided), SpotTrain needs MPI_THREAD_FUNNELED")
            }
            let comm = cmpi_comm_world()
            try check(MPI_Comm_set_errhandler(comm, cmpi_errors_return()), "MPI_Comm_set_errhandler", "returning errors")
            var rank: Int32 = 0, size: Int32 = 0
            try check(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank", "asking this process's rank")
            try check(MPI_Comm_size(comm, &size), "MPI_Comm_size", "asking the number of processes")
            let world = Communicator(comm: comm, rank: Int(rank), size: Int(size))
            existing = world
            return world
        }
    }

    /// Ends MPI in this process (`MPI_Finalize`); call it once, after the last collective, on
    /// every rank. MPI cannot be started again afterwards.
    /// - Throws: ``MPIError`` `.communicationFailed` if `MPI_Finalize` fails.
    public func finalize() throws {
        try Self.check(MPI_Finalize(), "MPI_Finalize", "ending MPI")
    }

    /// Ends every process of the job at once (`MPI_Abort`), for a rank that cannot go on
    /// while the others would wait for it forever.
    /// - Parameter status: The exit status `mpirun` reports.
    public func abort(status: Int32) -> Never {
        MPI_Abort(comm, status)
        // MPI_Abort does not return; should it, end this process anyway.
        exit(status)
    }

    /// Waits until every rank has called it.
    /// - Throws: ``MPIError`` `.communicationFailed`.
    public func barrier() throws {
        try Self.check(MPI_Barrier(comm), "MPI_Barrier", "waiting for every rank")
    }

    /// Sends rank `root`'s bytes to every rank: on return every rank's `bytes` equals the
    /// root's (of any length).
    /// - Parameters:
    ///   - bytes: The root's data on the root; replaced by it on the others.
    ///   - root: The sending rank (default 0).
    /// - Throws: ``MPIError`` `.communicationFailed`.
    public func broadcast(_ bytes: inout [UInt8], root: Int = 0) throws {
        precondition(root >= 0 && root < size, "Communicator.broadcast: root \(root) is not in 0..<\(size)")
        var count = Int64(bytes.count)
        try Self.check(MPI_Bcast(&count, 1, cmpi_int64(), Int32(root), comm), "MPI_Bcast", "broadcasting a length from rank \(root)")
        guard count >= 0, count <= Int64(Int32.max) else {
            throw MPIError(.mismatch, function: "broadcast", message: "rank \(root) announced \(count) bytes")
        }
        if rank != root { bytes = [UInt8](repeating: 0, count: Int(count)) }
        let n = Int32(count)
        try bytes.withUnsafeMutableBytes { raw in
            try Self.check(MPI_Bcast(raw.baseAddress, n, cmpi_byte(), Int32(root), comm), "MPI_Bcast",
                           "broadcasting \(n) bytes from rank \(root)")
        }
    }

    /// Gathers one `UInt64` from every rank onto every rank (for checksums and agreement checks).
    /// - Parameter value: This rank's value.
    /// - Returns: The values, indexed by rank.
    /// - Throws: ``MPIError`` `.communicationFailed`.
    public func allgather(_ value: UInt64) throws -> [UInt64] {
        var mine = value
        var all = [UInt64](repeating: 0, count: size)
        try all.withUnsafeMutableBytes { out in
            try Self.check(MPI_Allgather(&mine, 8, cmpi_byte(), out.baseAddress, 8, cmpi_byte(), comm), "MPI_Allgather",
                           "gathering one value from every rank")
        }
        return all
    }

    /// Replaces `buffer` on every rank by the element-wise sum of all ranks' buffers, added
    /// in rank order (`((b₀ + b₁) + b₂) + …`), so that the result is bit-identical on every
    /// rank and in every run with the same number of ranks.
    ///
    /// Every rank must pass a buffer of the same length.
    /// - Parameter buffer: This rank's values; the sums on return.
    /// - Throws: ``MPIError`` `.communicationFailed`.
    public func sumInRankOrder(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        guard size > 1, buffer.count > 0, let base = buffer.baseAddress else { return }
        let n = buffer.count
        precondition(n <= Int(Int32.max), "Communicator.sumInRankOrder: \(n) values exceed MPI's Int32 count")
        let count = Int32(n), size = self.size
        switch sumAlgorithm {
        case .reduceScatter:
            try sumByReduceScatter(base, count: n)
        case .allgather:
            if gathered.count < n * size { gathered = [Float](repeating: 0, count: n * size) }
            try gathered.withUnsafeMutableBufferPointer { all in
                try Self.check(MPI_Allgather(base, count, cmpi_float(), all.baseAddress, count, cmpi_float(), comm),
                               "MPI_Allgather", "gathering \(n) values from \(size) ranks")
                Self.addInRankOrder(all, ranks: size, into: base, count: n)
            }
        case .gatherBroadcast:
            if gathered.count < n * size { gathered = [Float](repeating: 0, count: n * size) }
            try gathered.withUnsafeMutableBufferPointer { all in
                try Self.check(MPI_Gather(base, count, cmpi_float(), all.baseAddress, count, cmpi_float(), 0, comm),
                               "MPI_Gather", "gathering \(n) values on rank 0")
                if rank == 0 { Self.addInRankOrder(all, ranks: size, into: base, count: n) }
                try Self.check(MPI_Bcast(base, count, cmpi_float(), 0, comm), "MPI_Bcast", "broadcasting \(n) sums from rank 0")
            }
        }
    }

    /// ``SumAlgorithm/reduceScatter``: slice `j` is `[j·n/size, (j+1)·n/size)`; this rank
    /// receives every rank's copy of its own slice, adds them in rank order, and every rank
    /// then receives every summed slice.
    private func sumByReduceScatter(_ base: UnsafeMutablePointer<Float>, count n: Int) throws {
        let size = self.size
        let slices: Slices
        if let known = slicesByLength[n] {
            slices = known
        } else {
            let bounds = (0...size).map { Int32($0 * n / size) }
            let sizes = (0..<size).map { bounds[$0 + 1] - bounds[$0] }
            let mine = sizes[rank]
            slices = Slices(sizes: sizes, offsets: Array(bounds.prefix(size)),
                            receiveSizes: [Int32](repeating: mine, count: size), receiveOffsets: (0..<size).map { Int32($0) * mine })
            if slicesByLength.count >= 64 { slicesByLength.removeAll() }  // bounded, whatever the caller passes
            slicesByLength[n] = slices
        }
        let mine = Int(slices.sizes[rank]), start = Int(slices.offsets[rank])
        if gathered.count < mine * size { gathered = [Float](repeating: 0, count: mine * size) }
        try gathered.withUnsafeMutableBufferPointer { all in
            try Self.check(MPI_Alltoallv(base, slices.sizes, slices.offsets, cmpi_float(),
                                         all.baseAddress, slices.receiveSizes, slices.receiveOffsets, cmpi_float(), comm),
                           "MPI_Alltoallv", "sending each rank its slice of \(n) values")
            Self.addInRankOrder(all, ranks: size, into: base + start, count: mine)
        }
        try Self.check(MPI_Allgatherv(cmpi_in_place(), 0, cmpi_float(), base, slices.sizes, slices.offsets, cmpi_float(), comm),
                       "MPI_Allgatherv", "sharing the summed slices of \(n) values")
    }

    /// `out[i] = ((all[0·n + i] + all[1·n + i]) + …)`: rank order, any thread count.
    private static func addInRankOrder(_ all: UnsafeMutableBufferPointer<Float>, ranks: Int, into out: UnsafeMutablePointer<Float>,
                                       count n: Int) {
        guard let a = all.baseAddress else { return }
        Parallel.forChunks(count: n, minimumChunk: 1 << 16) { range in
            for i in range {
                var s = a[i]
                for r in 1..<ranks { s += a[r * n + i] }
                out[i] = s
            }
        }
    }

    /// Throws ``MPIError`` `.communicationFailed` unless `rc` is `MPI_SUCCESS`; `doing` is
    /// built only then (so that a successful call allocates no message).
    static func check(_ rc: Int32, _ function: String, _ doing: @autoclosure () -> String) throws {
        guard rc != cmpi_success() else { return }
        throw MPIError(.communicationFailed, function: function, mpiCode: rc, message: "\(doing()): \(errorString(rc))")
    }

    static func errorString(_ rc: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: Int(cmpi_max_error_string()) + 1)
        var length: Int32 = 0
        guard MPI_Error_string(rc, &buffer, &length) == cmpi_success() else { return "MPI error \(rc)" }
        return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
