#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Sends SIGKILL to `pid` (a command that ignored SIGTERM).
private func forceKill(_ pid: Int32) {
    #if canImport(Glibc)
    _ = Glibc.kill(pid, SIGKILL)
    #elseif canImport(Darwin)
    _ = Darwin.kill(pid, SIGKILL)
    #endif
}

/// Runs a `credential_process` command: split like a POSIX shell line (the AWS CLI uses
/// Python's `shlex.split`, no shell), started without a shell, its standard output capped and
/// its run time bounded.
///
/// The command's standard output holds secrets: no error ever quotes it. Errors name the
/// program (not its arguments, which may carry tokens) and quote at most the start of its
/// standard error, as the CLI does.
enum CredentialProcess {
    /// What a finished command produced.
    struct Output: Sendable {
        /// The exit status (or the signal number for a killed process).
        var status: Int32
        /// Standard output (at most the limit).
        var standardOutput: Data
        /// The start of standard error.
        var standardError: Data
    }

    /// How much of standard error is kept for messages.
    static let standardErrorLimit = 1024

    /// Splits a command line the way Python's `shlex.split` does in POSIX mode: whitespace
    /// separates words; single quotes keep everything; double quotes keep everything except
    /// that `\"` and `\\` are unescaped; a backslash outside quotes escapes the next character.
    /// - Parameter line: The command line.
    /// - Returns: The words (program first).
    /// - Throws: ``CredentialsError`` for an unclosed quote or a trailing backslash.
    static func split(_ line: String) throws -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var iterator = Array(line).makeIterator()
        func fail(_ reason: String) -> CredentialsError {
            CredentialsError(provider: "credential-process", message: "credential_process: \(reason)")
        }
        while let character = iterator.next() {
            switch character {
            case " ", "\t", "\n", "\r", "\r\n":
                if inWord { words.append(current); current = ""; inWord = false }
            case "\\":
                guard let next = iterator.next() else { throw fail("the command ends with a backslash") }
                current.append(next)
                inWord = true
            case "'":
                inWord = true
                var closed = false
                while let next = iterator.next() {
                    if next == "'" { closed = true; break }
                    current.append(next)
                }
                if !closed { throw fail("no closing quotation (')") }
            case "\"":
                inWord = true
                var closed = false
                while let next = iterator.next() {
                    if next == "\"" { closed = true; break }
                    if next == "\\" {
                        guard let escaped = iterator.next() else { break }
                        if escaped != "\"" && escaped != "\\" { current.append("\\") }
                        current.append(escaped)
                        continue
                    }
                    current.append(next)
                }
                if !closed { throw fail("no closing quotation (\")") }
            default:
                current.append(character)
                inWord = true
            }
        }
        if inWord { words.append(current) }
        return words
    }

    /// Finds `program` the way `execvp` does: a name with a slash is a path; otherwise the
    /// first executable file of that name in `PATH`.
    /// - Returns: The executable's URL, or nil.
    static func locate(_ program: String, environment: [String: String]) -> URL? {
        if program.contains("/") {
            return FileManager.default.isExecutableFile(atPath: program) ? URL(fileURLWithPath: program) : nil
        }
        let path = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (directory.isEmpty ? "." : String(directory)) + "/" + program
            if FileManager.default.isExecutableFile(atPath: candidate) { return URL(fileURLWithPath: candidate) }
        }
        return nil
    }

    /// Runs `arguments` (program first) and collects its output.
    /// - Parameters:
    ///   - arguments: The program and its arguments; must not be empty.
    ///   - environment: The child's environment.
    ///   - timeout: How long the command may run before it is killed.
    ///   - outputLimit: The most bytes of standard output accepted; the command is killed
    ///     when it writes more.
    /// - Returns: The exit status and the output.
    /// - Throws: ``CredentialsError`` when the program cannot be found or started, runs past
    ///   `timeout`, or writes more than `outputLimit` bytes; `CancellationError`.
    static func run(_ arguments: [String], environment: [String: String], timeout: Duration,
                    outputLimit: Int) async throws -> Output {
        precondition(!arguments.isEmpty, "CredentialProcess.run: no program")
        let program = arguments[0]
        func fail(_ reason: String) -> CredentialsError {
            CredentialsError(provider: "credential-process", message: "credential_process '\(program)' \(reason)")
        }
        guard let executable = locate(program, environment: environment) else {
            throw fail("was not found or is not executable")
        }
        let process = Process()
        process.executableURL = executable
        process.arguments = Array(arguments.dropFirst())
        process.environment = environment
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        let run = Run(process: process, outputLimit: outputLimit)
        process.terminationHandler = { finished in run.exited(finished.terminationStatus) }
        do {
            try process.run()
        } catch {
            throw fail("could not be started: \(error.localizedDescription)")
        }
        run.drain(stdout.fileHandleForReading, isOutput: true)
        run.drain(stderr.fileHandleForReading, isOutput: false)
        let outcome: Run.Outcome = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                run.wait(continuation, timeout: timeout)
            }
        } onCancel: {
            run.cancel()
        }
        switch outcome {
        case .finished(let output): return output
        case .timedOut: throw fail("did not finish within \(timeout)")
        case .overflow: throw fail("wrote more than \(outputLimit) bytes to standard output")
        case .cancelled: throw CancellationError()
        }
    }

    /// The state of one run, shared by the reader threads, the termination handler and the timer.
    private final class Run: @unchecked Sendable {
        enum Outcome: Sendable {
            case finished(Output)
            case timedOut
            case overflow
            case cancelled
        }

        private let lock = NSLock()
        private let process: Process
        private let outputLimit: Int
        private var output = Data()
        private var errors = Data()
        private var openStreams = 2
        private var status: Int32?
        private var overflowed = false
        private var cancelled = false
        private var continuation: CheckedContinuation<Outcome, Never>?
        private var outcome: Outcome?

        init(process: Process, outputLimit: Int) {
            self.process = process
            self.outputLimit = outputLimit
        }

        func drain(_ handle: FileHandle, isOutput: Bool) {
            let thread = Thread { [self] in
                while true {
                    let chunk = (try? handle.read(upToCount: 16 * 1024)) ?? Data()
                    if chunk.isEmpty { break }
                    let tooMuch: Bool = lock.withLock {
                        if isOutput {
                            if output.count + chunk.count > outputLimit {
                                overflowed = true
                                return true
                            }
                            output.append(chunk)
                        } else if errors.count < CredentialProcess.standardErrorLimit {
                            errors.append(chunk.prefix(CredentialProcess.standardErrorLimit - errors.count))
                        }
                        return false
                    }
                    if tooMuch {
                        kill()
                        finish(.overflow)
                        break
                    }
                }
                try? handle.close()
                lock.withLock { openStreams -= 1 }
                finishIfDone()
            }
            thread.start()
        }

        func exited(_ status: Int32) {
            lock.withLock { self.status = status }
            finishIfDone()
        }

        func wait(_ continuation: CheckedContinuation<Outcome, Never>, timeout: Duration) {
            let ready: Outcome? = lock.withLock {
                if let outcome { return outcome }
                self.continuation = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready); return }
            let components = timeout.components
            let seconds = Double(components.seconds) + Double(components.attoseconds) / 1e18
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [self] in
                kill()
                finish(.timedOut)
            }
        }

        func kill() {
            let pid = process.processIdentifier
            guard pid > 0, process.isRunning else { return }
            process.terminate()
            DispatchQueue.global().asyncAfter(deadline: .now() + 1) { [self] in
                if process.isRunning { forceKill(pid) }
            }
        }

        func cancel() {
            kill()
            finish(.cancelled)
        }

        private func finishIfDone() {
            let done: Output? = lock.withLock {
                guard openStreams == 0, let status, !overflowed else { return nil }
                return Output(status: status, standardOutput: output, standardError: errors)
            }
            if let done { finish(.finished(done)) }
        }

        private func finish(_ result: Outcome) {
            let waiting: CheckedContinuation<Outcome, Never>? = lock.withLock {
                guard outcome == nil else { return nil }
                outcome = result
                defer { continuation = nil }
                return continuation
            }
            waiting?.resume(returning: result)
        }
    }
}
