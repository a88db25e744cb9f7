import Foundation  // Thread
import Logging
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// The write end of the self-pipe the signal handler writes to (`-1` when none is installed).
/// Lock-free, so reading it in a signal handler is async-signal-safe.
private let signalPipeWriteEnd = Atomic<Int32>(-1)

/// The process-wide signal handler: writes the signal number to the self-pipe and nothing
/// else (`write(2)` is async-signal-safe; no allocation, no locks). `errno` is preserved.
private func forwardSignalToPipe(_ signal: Int32) {
    let savedErrno = errno
    let descriptor = signalPipeWriteEnd.load(ordering: .acquiring)
    if descriptor >= 0 {
        var byte = UInt8(truncatingIfNeeded: signal)
        _ = write(descriptor, &byte, 1)
    }
    errno = savedErrno
}

/// Turns SIGTERM and SIGINT (or other signals) into an ``InterruptionRequest`` of kind
/// ``InterruptionRequest/Kind/signal``, so that a supervisor's stop (systemd, SageMaker,
/// Kubernetes, Ctrl-C) gets the same graceful checkpoint-and-exit as a spot notice.
///
/// The handler does only async-signal-safe work: it writes the signal number into a pipe.
/// A reader thread turns it into a request on ``flag`` and logs it. (A `sigaction` handler
/// is used rather than an ignored signal plus a dispatch signal source: on Linux that
/// source reads the signal through `signalfd`, which loses the race against any thread
/// that does not block the signal, such as the BLAS threads started before `main`.)
/// Installing also unblocks the signals in the calling thread, since a parent may have
/// passed a blocked mask on.
///
/// A second signal after the first calls `onRepeat` (for example to exit at once).
/// Only one instance may be installed at a time in a process.
public final class SignalInterruptionSource: InterruptionSource {
    /// The flag requests are raised on (shared with other feeders, such as a spot watcher).
    public let flag: InterruptionFlag
    /// The signals handled.
    public let signals: [Int32]

    private struct Installation {
        var previous: [(Int32, sigaction)] = []
        var readEnd: Int32 = -1
        var writeEnd: Int32 = -1
        var installed = false
    }

    private let installation = Mutex(Installation())
    private let gracePeriod: Double?
    private let now: @Sendable () -> Date
    private let logger: Logger
    private let onRepeat: (@Sendable (Int32) -> Void)?

    /// Creates the source; call ``install()`` to start handling signals.
    /// - Parameters:
    ///   - signals: The signals to handle (default SIGTERM and SIGINT).
    ///   - flag: Where to raise requests (default: a new flag of its own).
    ///   - gracePeriod: If set, the deadline of a signal request is this many seconds after
    ///     the signal (SageMaker gives 120, ECS 30 by default); otherwise it has none.
    ///   - now: The clock for detection times.
    ///   - onRepeat: Called on the reader thread with the signal number of every signal
    ///     after the first.
    ///   - logger: Receives one `notice` event per signal (metadata `signal`); default: a
    ///     logger labelled `spottrain.interruption` from the bootstrapped `LoggingSystem`.
    public init(signals: [Int32] = [SIGTERM, SIGINT], flag: InterruptionFlag = InterruptionFlag(),
                gracePeriod: Double? = nil, now: @escaping @Sendable () -> Date = { Date() },
                onRepeat: (@Sendable (Int32) -> Void)? = nil,
                logger: Logger? = nil) {
        precondition(!signals.isEmpty, "SignalInterruptionSource: no signals given")
        precondition(gracePeriod == nil || gracePeriod! > 0, "SignalInterruptionSource: gracePeriod must be positive")
        self.signals = signals
        self.flag = flag
        self.gracePeriod = gracePeriod
        self.now = now
        self.onRepeat = onRepeat
        self.logger = logger ?? Logger(label: Logger.SpotTrainLabel.interruption)
    }

    public var pendingInterruption: InterruptionRequest? { flag.pendingInterruption }
    public var rebalanceRecommendation: InterruptionRequest? { flag.rebalanceRecommendation }

    /// Whether the handlers are installed.
    public var isInstalled: Bool { installation.withLock { $0.installed } }

    /// A signal's conventional name: `SIGTERM`, `SIGINT`, … or `signal 10`.
    /// - Parameter signal: The signal number.
    /// - Returns: The name.
    public static func name(of signal: Int32) -> String {
        switch signal {
        case SIGTERM: "SIGTERM"
        case SIGINT: "SIGINT"
        case SIGHUP: "SIGHUP"
        case SIGQUIT: "SIGQUIT"
        case SIGUSR1: "SIGUSR1"
        case SIGUSR2: "SIGUSR2"
        default: "signal \(signal)"
        }
    }

    /// Installs the handlers and starts the reader thread. Does nothing if already installed.
    /// - Throws: ``CheckpointError`` with code ``CheckpointError/Code/io`` if the pipe or a
    ///   handler cannot be set up (nothing stays installed then).
    public func install() throws {
        try installation.withLock { state in
            guard !state.installed else { return }
            precondition(signalPipeWriteEnd.load(ordering: .acquiring) < 0,
                         "SignalInterruptionSource.install: another instance is installed in this process")
            var ends: [Int32] = [-1, -1]
            guard pipe(&ends) == 0 else {
                throw CheckpointError(.io, "cannot create the signal pipe", systemErrorNumber: errno)
            }
            for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
            // The handler must never block on a full pipe.
            _ = fcntl(ends[1], F_SETFL, fcntl(ends[1], F_GETFL) | O_NONBLOCK)
            signalPipeWriteEnd.store(ends[1], ordering: .releasing)

            var previous: [(Int32, sigaction)] = []
            for signal in signals {
                var action = sigaction()
                #if canImport(Darwin)
                action.__sigaction_u.__sa_handler = forwardSignalToPipe
                #else
                action.__sigaction_handler.sa_handler = forwardSignalToPipe
                #endif
                sigemptyset(&action.sa_mask)
                action.sa_flags = SA_RESTART
                var old = sigaction()
                guard sigaction(signal, &action, &old) == 0 else {
                    let number = errno
                    for (s, var o) in previous { sigaction(s, &o, nil) }
                    signalPipeWriteEnd.store(-1, ordering: .releasing)
                    close(ends[0]); close(ends[1])
                    throw CheckpointError(.io, "cannot install a handler for \(Self.name(of: signal))", systemErrorNumber: number)
                }
                previous.append((signal, old))
            }
            var set = sigset_t()
            sigemptyset(&set)
            for signal in signals { sigaddset(&set, signal) }
            pthread_sigmask(SIG_UNBLOCK, &set, nil)

            state = Installation(previous: previous, readEnd: ends[0], writeEnd: ends[1], installed: true)
            let readEnd = ends[0]
            let thread = Thread { [self] in self.readSignals(from: readEnd) }
            thread.name = "spottrain-signals"
            thread.start()
        }
    }

    /// Restores the previous handlers and stops the reader thread. Idempotent.
    public func uninstall() {
        installation.withLock { state in
            guard state.installed else { return }
            for (signal, var old) in state.previous { sigaction(signal, &old, nil) }
            signalPipeWriteEnd.store(-1, ordering: .releasing)
            close(state.writeEnd)  // the reader sees end of file, closes its end and returns
            state = Installation()
        }
    }

    private func readSignals(from descriptor: Int32) {
        var count = 0
        while true {
            var byte: UInt8 = 0
            let n = read(descriptor, &byte, 1)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            count += 1
            let signal = Int32(byte)
            let name = Self.name(of: signal)
            if count == 1 {
                let detected = now()
                let request = InterruptionRequest(kind: .signal, deadline: gracePeriod.map { detected.addingTimeInterval($0) },
                                                  detectedAt: detected, reason: name)
                flag.raise(request)
                logger.notice("interruption: \(name) received; finishing the current batch, then checkpointing and stopping",
                              metadata: ["signal": "\(name)"])
            } else {
                logger.notice("interruption: \(name) received again", metadata: ["signal": "\(name)"])
                onRepeat?(signal)
            }
        }
        close(descriptor)
    }
}
