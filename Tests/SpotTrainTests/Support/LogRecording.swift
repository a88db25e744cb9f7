import InMemoryLogging
import Logging

/// Records the events a library object logs, for tests to read back.
final class SpotLogLines: Sendable {
    private let handler = InMemoryLogHandler()

    /// A logger whose events this recorder keeps (every level from `trace` up).
    var logger: Logger {
        var logger = Logger(label: "test.recorder", factory: { [handler] _ in handler })
        logger.logLevel = .trace
        return logger
    }

    /// The recorded events, oldest first.
    var entries: [InMemoryLogHandler.Entry] { handler.entries }

    /// The events as the `spottrain` CLI prints them (without its `spottrain: ` prefix):
    /// `warning: ` or `error: ` before the message for those levels.
    var all: [String] {
        entries.map { entry in
            switch entry.level {
            case .warning: "warning: \(entry.message)"
            case .error, .critical: "error: \(entry.message)"
            case .trace, .debug, .info, .notice: "\(entry.message)"
            }
        }
    }

    /// Whether some recorded line contains `text`.
    func contains(_ text: String) -> Bool { all.contains { $0.contains(text) } }
}

extension Logger {
    /// A logger that drops every event (for tests that do not read the log).
    static var silent: Logger { Logger(label: "test.silent", factory: { _ in SwiftLogNoOpLogHandler() }) }
}
