import Foundation

/// Recognises SigV4 rejections caused by a wrong local clock, and holds the correction a
/// client applies to its signing dates afterwards.
///
/// AWS rejects a signature whose `X-Amz-Date` is more than five minutes from its own time.
/// Like botocore, a client that gets one of ``errorCodes`` with a response `Date` header more
/// than ``threshold`` away from its clock takes the difference as the skew, signs with the
/// corrected time and sends the request once more. The signer itself stays a pure value: it
/// is given the corrected date.
public final class ClockSkewCorrection: Sendable {
    /// Error codes AWS answers when a request's signing time is off (and some that a wrong
    /// time can cause): `RequestTimeTooSkewed`, `RequestExpired`, `RequestInTheFuture`,
    /// `InvalidSignatureException`, `SignatureDoesNotMatch`, `AuthFailure` (the codes the AWS
    /// SDKs' clock-skew adjusters recognise). Only with a skewed `Date` header do they count
    /// as a clock problem.
    public static let errorCodes: Set<String> = [
        "RequestTimeTooSkewed", "RequestExpired", "RequestInTheFuture", "InvalidSignatureException",
        "SignatureDoesNotMatch", "AuthFailure",
    ]

    /// Codes that only a wrong time produces, so they get a hint even without a `Date` header.
    public static let timeOnlyErrorCodes: Set<String> = ["RequestTimeTooSkewed", "RequestExpired", "RequestInTheFuture"]

    /// A difference between the server's `Date` and the local clock larger than this counts
    /// as skew (AWS allows five minutes; the `Date` header has one-second resolution).
    public static let threshold: TimeInterval = 240

    private let storage = OffsetStorage()
    private let onAdjust: (@Sendable (TimeInterval) -> Void)?

    /// Creates a correction of zero.
    /// - Parameter onAdjust: Called with the new total offset each time a skew is corrected
    ///   (for example to warn that the local clock is off); default none.
    public init(onAdjust: (@Sendable (TimeInterval) -> Void)? = nil) {
        self.onAdjust = onAdjust
    }

    /// Seconds added to the local clock when signing (positive: the server is ahead).
    public var offset: TimeInterval { storage.value }

    /// Adds `skew` seconds to ``offset``.
    /// - Parameter skew: The newly measured difference, server minus corrected local time.
    public func adjust(by skew: TimeInterval) {
        let total = storage.add(skew)
        onAdjust?(total)
    }

    /// The time to sign with: `now` plus ``offset``.
    /// - Parameter now: The local clock's time.
    /// - Returns: The corrected time.
    public func correctedDate(_ now: Date) -> Date {
        now.addingTimeInterval(offset)
    }

    /// The skew a rejection shows: `serverDate − localNow` when `code` is one of
    /// ``errorCodes`` and the difference exceeds ``threshold``; otherwise `nil`.
    /// - Parameters:
    ///   - code: The AWS error code.
    ///   - dateHeader: The response's `Date` header, if any.
    ///   - localNow: The (corrected) local time when the response arrived.
    /// - Returns: The skew in seconds, or `nil` when the rejection is not a clock problem.
    public static func skew(code: String, dateHeader: String?, localNow: Date) -> TimeInterval? {
        guard errorCodes.contains(code), let dateHeader, let serverDate = parseHTTPDate(dateHeader) else { return nil }
        let skew = serverDate.timeIntervalSince(localNow)
        return abs(skew) > threshold ? skew.rounded() : nil
    }

    /// Parses an HTTP `Date` header (RFC 1123, RFC 850 or asctime). A response with several
    /// `Date` fields may reach EC2Spot as one value joined with `", "`; the last date wins,
    /// as a later field overrides an earlier one.
    /// - Parameter text: The header value.
    /// - Returns: The date, or `nil`.
    public static func parseHTTPDate(_ text: String) -> Date? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, trimmed.utf8.count <= 256 else { return nil }
        var lastStart = trimmed.startIndex
        for weekday in ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] {
            if let range = trimmed.range(of: weekday, options: .backwards), range.lowerBound > lastStart {
                lastStart = range.lowerBound
            }
        }
        for candidate in [String(trimmed[lastStart...]), trimmed] {
            for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
                let formatter = DateFormatter()
                formatter.locale = Locale(identifier: "en_US_POSIX")
                formatter.timeZone = TimeZone(identifier: "UTC")
                formatter.dateFormat = format
                if let date = formatter.date(from: candidate) { return date }
            }
        }
        return nil
    }

    /// The sentence appended to an error that a skewed clock caused (and a warning's text).
    /// - Parameters:
    ///   - skew: Server time minus local time, in seconds.
    ///   - retried: Whether a request signed with the corrected time was also rejected.
    /// - Returns: `the local clock appears to be 1200 seconds behind AWS's; …`.
    public static func hint(skew: TimeInterval, retried: Bool) -> String {
        let seconds = Int(abs(skew).rounded())
        let direction = skew > 0 ? "behind" : "ahead of"
        var text = "the local clock appears to be \(seconds) seconds \(direction) the server's (from its Date header)"
        if retried {
            text += "; a retry signed with the corrected time was rejected too"
        }
        return text + "; fix the system clock (enable NTP time sync: timedatectl, chronyc tracking)"
    }

    /// A seconds value behind a lock.
    private final class OffsetStorage: @unchecked Sendable {
        private let lock = NSLock()
        private var seconds: TimeInterval = 0

        var value: TimeInterval {
            lock.lock()
            defer { lock.unlock() }
            return seconds
        }

        func add(_ delta: TimeInterval) -> TimeInterval {
            lock.lock()
            defer { lock.unlock() }
            seconds += delta
            return seconds
        }
    }
}
