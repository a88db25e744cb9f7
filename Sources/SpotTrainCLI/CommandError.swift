import ArgumentParser
import Foundation

/// Exit codes of `spottrain` (see `Docs/CLI.md`).
package enum ExitStatus {
    /// Finished.
    package static let success: Int32 = 0
    /// A runtime error: bad data, I/O failure, AWS error.
    package static let failure: Int32 = 1
    /// Invalid command line (argument-parser's own validation also uses 64).
    package static let usage: Int32 = 64
    /// Interrupted, and a checkpoint of the step it stopped at exists (EX_TEMPFAIL): restart
    /// to continue with nothing lost. An interruption that could not be checkpointed exits 1.
    package static let interrupted: Int32 = 75
    /// A configuration no restart can fix (EX_CONFIG): bad or empty data files, a checkpoint
    /// of another model or run configuration, a diverged run. The systemd unit lists it (and
    /// 64) in `RestartPreventExitStatus=`.
    package static let configuration: Int32 = 78
}

/// A command-line problem found after parsing (for example a flag that contradicts the
/// checkpoint being resumed): printed as one line, exit 64.
struct UsageError: Error, CustomStringConvertible {
    /// What is wrong and how to fix it.
    let message: String
    var description: String { message }
}

/// Prints `spottrain: error: <message>` on standard error, secrets redacted
/// (``redactedForOutput(_:)``).
package func printError(_ message: String) {
    FileHandle.standardError.write(Data("spottrain: error: \(redactedForOutput(message))\n".utf8))
}

/// Prints a line on standard error (progress and notices; standard output is for results),
/// secrets redacted (``redactedForOutput(_:)``).
func printNotice(_ message: String) {
    FileHandle.standardError.write(Data("spottrain: \(redactedForOutput(message))\n".utf8))
}

/// Runs `body`; any error is printed as one line and turned into an exit code:
/// `status(error)` if given, else 64 for a ``UsageError`` and 1 for anything else.
package func reportingErrors<T>(status: ((Error) -> Int32)? = nil, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let exit as ExitCode {
        throw exit
    } catch {
        printError(String(describing: error))
        if error is UsageError { throw ExitCode(ExitStatus.usage) }
        throw ExitCode(status?(error) ?? ExitStatus.failure)
    }
}
