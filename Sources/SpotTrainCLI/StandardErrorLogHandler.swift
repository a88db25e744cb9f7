import Foundation
import Logging

/// The `spottrain` command's log handler: every library event becomes one line on standard
/// error, `spottrain: <message>`, with `warning: ` or `error: ` before the message for those
/// levels — the lines the command has always printed, so scripts that read them keep working.
///
/// Metadata is not printed (the message already says what it holds), and secrets the process
/// knows are redacted from the message as from every other line the command prints.
struct StandardErrorLogHandler: LogHandler {
    /// Events below this level are dropped (default `info`: everything the library reports).
    var logLevel: Logger.Level = .info
    /// Metadata attached to the logger (not printed).
    var metadata: Logger.Metadata = [:]
    /// Not used: metadata is not printed.
    var metadataProvider: Logger.MetadataProvider?

    /// Reads or writes one metadata entry.
    /// - Parameter key: The metadata key.
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// The line printed for an event: `spottrain: [warning: |error: ]<message>`.
    /// - Parameters:
    ///   - level: The event's level.
    ///   - message: The event's message.
    /// - Returns: The line, without its newline and before redaction.
    static func line(level: Logger.Level, message: String) -> String {
        switch level {
        case .warning: "warning: " + message
        case .error, .critical: "error: " + message
        case .trace, .debug, .info, .notice: message
        }
    }

    /// Writes one line for `event` to standard error.
    /// - Parameter event: The event.
    func log(event: LogEvent) {
        printNotice(Self.line(level: event.level, message: event.message.description))
    }

    /// Makes every logger created from now on print through this handler. Call once, before
    /// any library object that logs is created.
    static func bootstrap() {
        LoggingSystem.bootstrap { _ in StandardErrorLogHandler() }
    }
}
