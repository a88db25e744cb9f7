import ArgumentParser
import EC2Spot
import Foundation

/// `spottrain ec2 watch`: print spot interruption notices as JSON lines.
struct EC2WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Poll IMDS for spot interruption notices and rebalance recommendations.",
        discussion: """
        Prints each distinct notice as one JSON line on standard output, for example \
        {"kind":"terminate","time":"2026-11-29T12:00:00Z"} (kinds: terminate, stop, hibernate, \
        rebalance-recommendation; for an interruption the time is the deadline, about two minutes after \
        the notice). Any HTTP 200 on spot/instance-action is a notice: a document that cannot be fully \
        read gives a warning on standard error, an unknown action counts as terminate, and an unreadable \
        time becomes the moment of receipt, marked "time_estimated":true. IMDS errors are warnings on \
        standard error (the first, then the 2nd, 4th, 8th, … in a row of each endpoint); polling goes \
        on. With --once it exits 0 at the first interruption notice (not at a rebalance \
        recommendation); otherwise it runs until stopped.
        """
    )

    @OptionGroup var metadata: EC2MetadataOptions

    @Option(name: .customLong("poll-interval"), help: "Seconds between polls (AWS recommends 5).")
    var pollInterval: Double = 5

    @Flag(help: "Exit 0 at the first interruption notice.")
    var once = false

    @Flag(name: .customLong("no-rebalance"), help: "Do not check rebalance recommendations.")
    var noRebalance = false

    func validate() throws {
        _ = try ec2Seconds(pollInterval, option: "--poll-interval")
    }

    func run() async throws {
        try await reportingEC2Errors {
            let client = try metadata.makeClient(environment: ProcessInfo.processInfo.environment)
            let watcher = InterruptionWatcher(
                source: client, pollInterval: try ec2Seconds(pollInterval, option: "--poll-interval"),
                watchesRebalance: !noRebalance,
                onFailure: { failure in
                    if failure.isWorthLogging {
                        printNotice("warning: " + ec2OneLine(failure.description))
                    }
                })
            watcher.start()
            defer { watcher.stop() }
            for await notice in watcher.notices {
                for warning in notice.warnings {
                    printNotice("warning: IMDS notice document: " + ec2OneLine(warning))
                }
                FileHandle.standardOutput.write(Data((notice.jsonLine + "\n").utf8))
                if once && notice.isInterruption { return }
            }
        }
    }
}
