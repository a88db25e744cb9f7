import ArgumentParser
import Foundation

/// Exit codes of `spottrain` (see `Docs/CLI.md`).
enum ExitStatus {
    /// Finished.
    static let success: Int32 = 0
    /// A runtime error: bad data, I/O failure, AWS error.
    static let failure: Int32 = 1
    /// Invalid command line (argument-parser's own validation also uses 64).
    static let usage: Int32 = 64
    /// Interrupted, and a checkpoint of the step it stopped at exists (EX_TEMPFAIL): restart
    /// to continue with nothing lost. An interruption that could not be checkpointed exits 1.
    static let interrupted: Int32 = 75
}

/// Prints `spottrain: error: <message>` on standard error, secrets redacted
/// (``redactedForOutput(_:)``).
func printError(_ message: String) {
    FileHandle.standardError.write(Data("spottrain: error: \(redactedForOutput(message))\n".utf8))
}

/// Prints a line on standard error (progress and notices; standard output is for results),
/// secrets redacted (``redactedForOutput(_:)``).
func printNotice(_ message: String) {
    FileHandle.standardError.write(Data("spottrain: \(redactedForOutput(message))\n".utf8))
}

/// Runs `body`; any error is printed as one line and turned into exit code 1.
func reportingErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let exit as ExitCode {
        throw exit
    } catch {
        printError(String(describing: error))
        throw ExitCode(ExitStatus.failure)
    }
}
