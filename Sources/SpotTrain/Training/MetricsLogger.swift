import Foundation

/// Appends metrics to a file: one JSON object per line (`.jsonl`, the default) or CSV rows.
///
/// Every epoch end writes `{"event":"epoch","epoch":…,"global_step":…,"loss":…,…}`; with
/// `everySteps` set, every that many steps also writes a `"step"` record. Each line is
/// flushed as it is written, so a killed run keeps every line it wrote.
public final class MetricsLogger: Callback {
    /// The file format.
    public enum Format: String, Sendable {
        /// JSON Lines: one object per line.
        case jsonLines
        /// Comma-separated values with a header line; columns are fixed by the first record.
        case csv
    }

    /// The file written to.
    public let path: String
    /// The format.
    public let format: Format
    /// Also log every this many global steps, if set.
    public let everySteps: Int?
    private var handle: FileHandle?
    private var columns: [String]?

    /// Creates a logger; the file is opened (created or appended to) when training begins.
    /// - Parameters:
    ///   - path: The file.
    ///   - format: `.jsonLines` (default; chosen for `.jsonl`/`.json`) or `.csv` (for `.csv`).
    ///   - everySteps: Also log every this many steps.
    public init(path: String, format: Format? = nil, everySteps: Int? = nil) {
        precondition(everySteps == nil || everySteps! > 0, "MetricsLogger: everySteps \(everySteps!) must be positive")
        self.path = path
        self.format = format ?? (path.hasSuffix(".csv") ? .csv : .jsonLines)
        self.everySteps = everySteps
    }

    deinit { try? handle?.close() }

    public func trainBegin(_ context: TrainingContext) throws {
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
            }
        }
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try h.seekToEnd()
        handle = h
    }

    public func batchEnd(_ context: TrainingContext) throws {
        guard let every = everySteps, context.globalStep % every == 0, let step = context.lastStep else { return }
        try write(["event": "step"], numbers: ["epoch": Double(context.epoch + 1), "global_step": Double(context.globalStep),
                                                "batch_loss": Double(step.loss),
                                                "loss": context.logs["loss"] ?? .nan, "accuracy": context.logs["accuracy"] ?? .nan])
    }

    public func epochEnd(_ context: TrainingContext) throws {
        var numbers = context.logs
        numbers["global_step"] = Double(context.globalStep)
        let rate = context.progress.trainingSeconds > 0
            ? Double(context.progress.trainingSamples) / context.progress.trainingSeconds : 0
        numbers["samples_per_second"] = rate
        try write(["event": "epoch"], numbers: numbers)
    }

    public func trainEnd(_ context: TrainingContext) throws {
        try handle?.synchronize()
        try handle?.close()
        handle = nil
    }

    private func write(_ strings: [String: String], numbers: [String: Double]) throws {
        guard let handle else { return }
        let line: String
        switch format {
        case .jsonLines:
            var fields = strings.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\"\($0.value)\"" }
            fields += numbers.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\(MetricsLogger.json($0.value))" }
            line = "{" + fields.joined(separator: ",") + "}\n"
        case .csv:
            var header = ""
            if columns == nil {
                columns = strings.keys.sorted() + numbers.keys.sorted()
                header = columns!.joined(separator: ",") + "\n"
            }
            let values = columns!.map { key in strings[key] ?? numbers[key].map { MetricsLogger.json($0) } ?? "" }
            line = header + values.joined(separator: ",") + "\n"
        }
        try handle.write(contentsOf: Data(line.utf8))
    }

    /// A number as JSON (non-finite values as `null`, integers without a fraction).
    static func json(_ value: Double) -> String {
        guard value.isFinite else { return "null" }
        if value == value.rounded() && abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}
