#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Shows training progress: on a terminal a live bar with loss, accuracy, samples/s and
/// ETA; otherwise a plain line every ``interval`` seconds and one per epoch.
public final class ProgressBar: Callback {
    /// Seconds between plain lines when not on a terminal.
    public let interval: Double
    private let write: (String) -> Void
    private let isTerminal: Bool
    private let clock = ContinuousClock()
    private var epochStart: ContinuousClock.Instant?
    private var lastPrint: ContinuousClock.Instant?
    private var epochStartSamples = 0
    private var epochStartSeconds = 0.0

    /// Creates a progress display.
    /// - Parameters:
    ///   - interval: Seconds between plain lines when not on a terminal (default 10).
    ///   - isTerminal: Whether to draw a live bar; `nil` asks whether standard error is a TTY.
    ///   - write: Where text goes (default: standard error).
    public init(interval: Double = 10, isTerminal: Bool? = nil, write: ((String) -> Void)? = nil) {
        self.interval = interval
        self.isTerminal = isTerminal ?? (isatty(2) == 1)
        self.write = write ?? writeToStandardError
    }

    public func epochBegin(_ context: TrainingContext) throws {
        epochStart = clock.now
        lastPrint = clock.now
        epochStartSamples = context.progress.trainingSamples
        epochStartSeconds = context.progress.trainingSeconds
    }

    public func trainBegin(_ context: TrainingContext) throws {
        try epochBegin(context)
        if context.progress.globalStep > 0 {
            write("Continuing at epoch \(context.epoch + 1)/\(context.epochs), batch \(context.stepInEpoch)/\(context.batchesPerEpoch) (step \(context.globalStep))\n")
        }
    }

    public func batchEnd(_ context: TrainingContext) throws {
        let now = clock.now
        if isTerminal {
            guard let last = lastPrint, last.duration(to: now) >= .milliseconds(200)
                    || context.stepInEpoch == context.batchesPerEpoch else { return }
            lastPrint = now
            write("\r\u{1B}[K" + line(context, bar: true))
        } else {
            guard let last = lastPrint, last.duration(to: now).seconds >= interval else { return }
            lastPrint = now
            write(line(context, bar: false) + "\n")
        }
    }

    public func epochEnd(_ context: TrainingContext) throws {
        var text = line(context, bar: false)
        if let v = context.logs["val_accuracy"], let l = context.logs["val_loss"] {
            text += String(format: " val_loss %.4f val_accuracy %.4f", l, v)
        }
        if let s = context.logs["epoch_seconds"] { text += String(format: " (%.1f s)", s) }
        write((isTerminal ? "\r\u{1B}[K" : "") + text + "\n")
    }

    private func samplesPerSecond(_ context: TrainingContext) -> Double {
        let seconds = context.progress.trainingSeconds - epochStartSeconds
        let samples = context.progress.trainingSamples - epochStartSamples
        return seconds > 0 ? Double(samples) / seconds : 0
    }

    private func line(_ context: TrainingContext, bar: Bool) -> String {
        let done = context.stepInEpoch, total = max(context.batchesPerEpoch, 1)
        var s = "epoch \(context.epoch + 1)/\(context.epochs) "
        if bar {
            let width = 24, filled = min(width, done * width / total)
            s += "[" + String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled) + "] "
        }
        s += "\(done)/\(total)"
        if let loss = context.logs["loss"], let acc = context.logs["accuracy"] {
            s += String(format: " loss %.4f accuracy %.4f", loss, acc)
        }
        let rate = samplesPerSecond(context)
        if rate > 0 {
            s += String(format: " %.0f samples/s", rate)
            let remaining = Double((total - done) * context.batchSize) / rate
            if done < total { s += String(format: " ETA %.0f s", remaining) }
        }
        return s
    }
}

/// Writes `text` to standard error with one unbuffered `write(2)`, so a killed process
/// loses nothing it printed.
func writeToStandardError(_ text: String) {
    var bytes = Array(text.utf8)
    bytes.withUnsafeMutableBytes { raw in
        var offset = 0
        while offset < raw.count {
            let n = write(2, raw.baseAddress! + offset, raw.count - offset)
            if n <= 0 { break }
            offset += n
        }
    }
}
