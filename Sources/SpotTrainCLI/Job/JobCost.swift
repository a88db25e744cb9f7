import EC2Spot
import Foundation

/// What a job's instances cost, as pure functions: billable seconds of an instance (EC2's
/// per-second Linux billing, 60 seconds at least) and the spot price integrated over an
/// interval from `DescribeSpotPriceHistory` points (each price holds from its timestamp until
/// the next point of the same type and zone).
enum JobCost {
    /// The shortest billed run of a Linux instance.
    static let minimumBilledSeconds = 60

    /// Whole seconds billed for an instance that ran from `start` to `end`: rounded up, 60
    /// at least (0 when `end` is not after `start`).
    static func billableSeconds(from start: Date, to end: Date) -> Int {
        let seconds = end.timeIntervalSince(start)
        guard seconds > 0, seconds.isFinite else { return 0 }
        return max(minimumBilledSeconds, Int(min(seconds.rounded(.up), 1e12)))
    }

    /// The spot cost in USD of `seconds` starting at `start`, with the price in effect at each
    /// moment: the newest point at or before it; before the first point, the first point's
    /// price (AWS answers a period with the price in effect at its start, so this only covers
    /// a history that starts late).
    /// - Parameters:
    ///   - start: When billing started.
    ///   - seconds: Billable seconds.
    ///   - points: The type's and zone's price points, in any order.
    /// - Returns: USD, or nil when there are no points.
    static func spotCost(from start: Date, seconds: Int, points: [SpotPrice]) -> Decimal? {
        guard !points.isEmpty else { return nil }
        guard seconds > 0 else { return 0 }
        let sorted = points.sorted { $0.timestamp < $1.timestamp }
        let end = start.addingTimeInterval(TimeInterval(seconds))
        var total = Decimal(0)
        // The price at `start`, then each change inside the interval.
        var index = sorted.lastIndex { $0.timestamp <= start } ?? 0
        var from = start
        while from < end {
            let next = sorted.index(after: index)
            let until = next < sorted.count ? min(max(sorted[next].timestamp, from), end) : end
            let span = until.timeIntervalSince(from)
            if span > 0 { total += sorted[index].pricePerHour * Decimal(span) / 3600 }
            from = until
            if next < sorted.count { index = next } else { break }
        }
        return total
    }

    /// `price` USD/hour for `seconds`.
    static func cost(pricePerHour price: Decimal, seconds: Int) -> Decimal {
        price * Decimal(seconds) / 3600
    }

    /// `value` rounded to `scale` decimal places (half up), for output.
    static func rounded(_ value: Decimal, scale: Int = 6) -> Decimal {
        var input = value
        var result = Decimal()
        NSDecimalRound(&result, &input, scale, .plain)
        return result
    }

    /// Parses `--on-demand-price TYPE=USD_PER_HOUR`.
    /// - Parameter text: The option's value.
    /// - Returns: The type and the price.
    /// - Throws: ``JobError`` (`.refusedArgument`) naming the flag.
    static func parseOnDemandPrice(_ text: String) throws -> (type: String, price: Decimal) {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty, !parts[0].contains(" "),
              parts[1].allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }), parts[1].contains(where: \.isNumber),
              let price = Decimal(string: parts[1], locale: Locale(identifier: "en_US_POSIX")), price >= 0 else {
            throw JobError(.refusedArgument, "--on-demand-price must be TYPE=USD_PER_HOUR (for example c7i.large=0.0893), not '\(text)'")
        }
        return (parts[0], price)
    }
}
