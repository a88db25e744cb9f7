import Foundation
import SpotTrain

/// Shared fixtures for the checkpoint tests.
enum CheckpointFixtures {
    /// A small checkpoint (~1.5 KB uncompressed): two layers' parameters, Adam moments,
    /// a compressible tensor, an empty tensor and a scalar, with extreme UInt64 state.
    static func small(globalStep: Int = 7, seed: UInt64 = 1) -> Checkpoint {
        let rng = RandomGenerator(seed: seed)
        let w = Tensor.normal([3, 4], standardDeviation: 0.05, rng: rng)
        let b = Tensor.normal([4], standardDeviation: 0.05, rng: rng)
        let m = Tensor.normal([3, 4], standardDeviation: 1e-4, rng: rng)
        let v = Tensor.uniform([3, 4], lower: 0, upper: 1e-6, rng: rng)
        let zeros = Tensor.filled([64], with: 0.25)
        let empty = Tensor.zeros([0, 5])
        let scalar = Tensor(shape: [], values: [3.5])
        let signature = ModelSignature([(name: "dense.weight", shape: [3, 4]), (name: "dense.bias", shape: [4]),
                                        (name: "norm.scale", shape: [64])])
        // A run of 1,000 examples and one example per step, so any global step is a valid position.
        var progress = TrainingProgress()
        progress.epoch = globalStep / 1_000
        progress.stepInEpoch = globalStep % 1_000
        progress.globalStep = globalStep
        progress.epochSeen = progress.stepInEpoch
        progress.trainingSamples = globalStep
        progress.history = [["loss": 2.302585092994046, "accuracy": 0.1], ["loss": .nan, "accuracy": .infinity]]
        progress.best = ["ModelCheckpoint.val_loss": 0.1 + 0.2, "ünïcode ✓": 1]
        let state = TrainingState(progress: progress, seed: 0x8000_0000_0000_0001, batchSize: 1, trainingCount: 1_000,
                                  rngState: UInt64.max,
                                  optimizer: .init(kind: "Adam", hyperparameters: ["learningRate": 1e-3, "beta1": 0.9,
                                                                                   "beta2": 0.999, "epsilon": 1e-7],
                                                   step: globalStep))
        let metadata = CheckpointMetadata(createdUnixMilliseconds: 1_795_000_000_123, globalStep: globalStep,
                                          trainingState: state, modelSignature: signature)
        return Checkpoint(metadata: metadata, tensors: [
            NamedTensor(name: "dense.weight", tensor: w),
            NamedTensor(name: "dense.bias", tensor: b),
            NamedTensor(name: "norm.scale", tensor: zeros),
            NamedTensor(name: "optimizer.dense.weight.m", tensor: m),
            NamedTensor(name: "optimizer.dense.weight.v", tensor: v),
            NamedTensor(name: "empty", tensor: empty),
            NamedTensor(name: "scalar", tensor: scalar),
        ])
    }

    /// Bit patterns of every tensor, by name, for exact comparison.
    static func bits(_ checkpoint: Checkpoint) -> [String: [UInt32]] {
        var result: [String: [UInt32]] = [:]
        for t in checkpoint.tensors { result[t.name] = t.tensor.scalars.map(\.bitPattern) }
        return result
    }

    /// A fresh empty directory under the system temporary directory.
    static func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "spottrain-ckpt-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    static func read(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    static func names(in directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
    }
}

/// An independent, test-only parser of the file layout described in
/// `Docs/CheckpointFormat.md`, used to edit files and re-seal their checksums so that the
/// reader's structural checks (not only its CRC checks) are exercised.
struct CheckpointSurgery {
    var header: [UInt8]
    var metadata: [UInt8]
    var records: [(header: [UInt8], payload: [UInt8])]

    init(_ bytes: [UInt8]) {
        func u32(_ o: Int) -> Int { Int(bytes[o]) | Int(bytes[o + 1]) << 8 | Int(bytes[o + 2]) << 16 | Int(bytes[o + 3]) << 24 }
        func u64(_ o: Int) -> Int { u32(o) | u32(o + 4) << 32 }
        let headerLength = u32(12)
        header = Array(bytes[0..<headerLength])
        let metadataLength = u64(16)
        metadata = Array(bytes[headerLength..<(headerLength + metadataLength)])
        records = []
        var p = headerLength + metadataLength
        let end = bytes.count - 24
        while p < end {
            let h = u32(p)
            let stored = u64(p + 24)
            records.append((Array(bytes[p..<(p + h)]), Array(bytes[(p + h)..<(p + h + stored)])))
            p += h + stored
        }
    }

    static func put<T: FixedWidthInteger>(_ value: T, _ bytes: inout [UInt8], at offset: Int) {
        withUnsafeBytes(of: value.littleEndian) { for (i, b) in $0.enumerated() { bytes[offset + i] = b } }
    }

    /// Reassembles the file, recomputing the metadata length and CRC, the record count, the
    /// footer offset and the whole-file CRC (record fields are left as edited).
    func sealed() -> [UInt8] {
        var h = header
        Self.put(UInt64(metadata.count), &h, at: 16)
        Self.put(Zlib.crc32(metadata), &h, at: 24)
        Self.put(UInt32(records.count), &h, at: 28)
        var out = h + metadata
        for r in records { out += r.header + r.payload }
        var footer = [UInt8](repeating: 0, count: 12)
        Self.put(UInt64(out.count), &footer, at: 0)
        Self.put(UInt32(records.count), &footer, at: 8)
        out += footer
        let crc = Zlib.crc32(out)
        withUnsafeBytes(of: crc.littleEndian) { out += $0 }
        out += Array("CKPTDONE".utf8)
        return out
    }

    /// Re-seals arbitrary bytes in place: recomputes the whole-file CRC and, if the header's
    /// metadata range is inside the file, the metadata CRC. Leaves everything else as is.
    static func reseal(_ bytes: inout [UInt8]) {
        guard bytes.count >= 56 else { return }
        func u(_ o: Int, _ n: Int) -> UInt64 { (0..<n).reduce(0) { $0 | UInt64(bytes[o + $1]) << (8 * UInt64($1)) } }
        let headerLength = u(12, 4), metadataLength = u(16, 8)
        if headerLength <= UInt64(bytes.count), metadataLength <= UInt64(bytes.count) - headerLength {
            let crc = Zlib.crc32(Array(bytes[Int(headerLength)..<Int(headerLength + metadataLength)]))
            put(crc, &bytes, at: 24)
        }
        let crc = Zlib.crc32(Array(bytes[0..<(bytes.count - 12)]))
        put(crc, &bytes, at: bytes.count - 12)
    }
}

/// A file system that delegates to the real one but fails the `nth` call (1-based) of one
/// operation, for testing that failed saves lose nothing.
final class FailingFileSystem: CheckpointFileSystem, @unchecked Sendable {
    enum Operation: String, CaseIterable, Sendable {
        case create, write, synchronize, close, rename, synchronizeDirectory
    }

    private let base = POSIXCheckpointFileSystem()
    private let lock = NSLock()
    private var counts: [Operation: Int] = [:]
    let failing: Operation?
    let nth: Int

    init(failing: Operation?, nth: Int = 1) {
        self.failing = failing
        self.nth = nth
    }

    private func tick(_ op: Operation) throws {
        let count: Int = lock.withLock {
            counts[op, default: 0] += 1
            return counts[op]!
        }
        if op == failing && count == nth {
            throw CheckpointError(.io, "injected \(op.rawValue) failure", systemErrorNumber: EIO)
        }
    }

    func calls(_ op: Operation) -> Int { lock.withLock { counts[op, default: 0] } }

    func createFile(atPath path: String) throws -> Int32 {
        try tick(.create)
        return try base.createFile(atPath: path)
    }
    func write(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) throws {
        try tick(.write)
        try base.write(descriptor, bytes)
    }
    func synchronize(_ descriptor: Int32) throws {
        try tick(.synchronize)
        try base.synchronize(descriptor)
    }
    func close(_ descriptor: Int32) throws {
        try tick(.close)
        try base.close(descriptor)
    }
    func rename(_ source: String, to destination: String) throws {
        try tick(.rename)
        try base.rename(source, to: destination)
    }
    func synchronizeDirectory(atPath path: String) throws {
        try tick(.synchronizeDirectory)
        try base.synchronizeDirectory(atPath: path)
    }
    func removeFile(atPath path: String) throws { try base.removeFile(atPath: path) }
    func contentsOfDirectory(atPath path: String) throws -> [String] { try base.contentsOfDirectory(atPath: path) }
    func readFile(atPath path: String) throws -> [UInt8] { try base.readFile(atPath: path) }
    func createDirectory(atPath path: String) throws { try base.createDirectory(atPath: path) }
}
