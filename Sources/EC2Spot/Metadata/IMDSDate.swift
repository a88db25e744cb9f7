import Foundation

/// Parsing and formatting of the ISO-8601 UTC timestamps IMDS uses
/// (`2026-11-29T12:00:00Z`, sometimes with fractional seconds).
enum IMDSDate {
    /// Parses an IMDS timestamp in the documented form, or returns `nil`.
    static func parse(_ text: String) -> Date? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, trimmed.count <= 64 else { return nil }
        if let date = try? Date(trimmed, strategy: Date.ISO8601FormatStyle()) { return date }
        return try? Date(trimmed, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    /// A timestamp read by ``parseLenient(_:)``, with the form it was written in.
    struct Lenient: Equatable {
        /// The instant.
        var date: Date
        /// `nil` for the documented ISO-8601 UTC form; otherwise a short name of the other
        /// form (for a warning), for example `"RFC 1123"` or `"epoch seconds"`.
        var unusualForm: String?
    }

    /// Parses a JSON `time` string written in any form a server might plausibly use:
    /// ISO-8601 with or without `Z`, an offset, a space for `T` or fractional seconds (no zone
    /// is read as UTC), RFC 1123 / RFC 850 / asctime (HTTP dates), or a string of digits
    /// (seconds since 1970, or milliseconds above 10¹¹).
    /// - Parameter string: The JSON string value.
    /// - Returns: The instant and its form, or `nil` when nothing plausible could be read.
    static func parseLenient(_ string: String) -> Lenient? {
        let text = string.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty, text.utf8.count <= 64 else { return nil }
        if let date = parse(text) { return Lenient(date: date, unusualForm: nil) }
        if let iso = looseISO8601(text) { return iso }
        if let seconds = Double(text), text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }) {
            return epoch(seconds)
        }
        for (format, name) in httpDateFormats {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return Lenient(date: date, unusualForm: name) }
        }
        return nil
    }

    /// Formats a date as `yyyy-MM-ddTHH:mm:ssZ` (UTC).
    static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle())
    }

    // MARK: - Private

    private static let httpDateFormats: [(String, String)] = [
        ("EEE, dd MMM yyyy HH:mm:ss zzz", "RFC 1123"),
        ("dd MMM yyyy HH:mm:ss zzz", "RFC 1123 without weekday"),
        ("EEEE, dd-MMM-yy HH:mm:ss zzz", "RFC 850"),
        ("EEE MMM d HH:mm:ss yyyy", "asctime"),
    ]

    /// Seconds (or milliseconds above 10¹¹) since 1970, if finite and in 1970…9999.
    /// - Parameter value: A JSON number.
    /// - Returns: The instant, or `nil` for a value that is not a plausible time.
    static func epoch(_ value: Double) -> Lenient? {
        guard value.isFinite, value > 0 else { return nil }
        let seconds = value > 1e11 ? value / 1000 : value
        guard seconds < 253_402_300_800 else { return nil }   // 10000-01-01
        return Lenient(date: Date(timeIntervalSince1970: seconds),
                       unusualForm: value > 1e11 ? "epoch milliseconds" : "epoch seconds")
    }

    /// `YYYY-MM-DD[T| ]hh:mm[:ss[.fff…]][Z|z|±hh[:]mm|±hh]`, read field by field.
    private static func looseISO8601(_ text: String) -> Lenient? {
        let bytes = Array(text.utf8)
        var index = 0
        func number(_ digits: Int) -> Int? {
            guard index + digits <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[index..<index + digits] {
                guard (0x30...0x39).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            index += digits
            return value
        }
        func expect(_ characters: String) -> Bool {
            guard index < bytes.count, characters.utf8.contains(bytes[index]) else { return false }
            index += 1
            return true
        }
        guard let year = number(4), expect("-"), let month = number(2), expect("-"), let day = number(2),
              expect("Tt "), let hour = number(2), expect(":"), let minute = number(2) else { return nil }
        var second = 0.0
        if expect(":") {
            guard let whole = number(2) else { return nil }
            second = Double(whole)
            if expect(".,") {
                var scale = 0.1
                let start = index
                while index < bytes.count, (0x30...0x39).contains(bytes[index]) {
                    second += Double(bytes[index] - 0x30) * scale
                    scale /= 10
                    index += 1
                }
                guard index > start else { return nil }
            }
        }
        var offsetSeconds = 0
        var zoneNote = "no time zone, read as UTC"
        if index < bytes.count {
            if expect("Zz") {
                zoneNote = ""
            } else if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                let sign = bytes[index] == UInt8(ascii: "-") ? -1 : 1
                index += 1
                guard let hours = number(2) else { return nil }
                _ = expect(":")
                let minutes = index < bytes.count ? number(2) : 0
                guard let minutes, hours <= 23, minutes <= 59 else { return nil }
                offsetSeconds = sign * (hours * 3600 + minutes * 60)
                zoneNote = ""
            } else if text.hasSuffix(" UTC") || text.hasSuffix(" GMT") {
                index = bytes.count
                zoneNote = ""
            }
        }
        guard index == bytes.count, (1...12).contains(month), (1...31).contains(day), hour <= 23,
              minute <= 59, second < 61 else { return nil }
        var components = DateComponents()
        components.calendar = Calendar(identifier: .gregorian)
        components.timeZone = TimeZone(identifier: "UTC")
        components.year = year
        components.month = month
        components.day = day
        components.hour = hour
        components.minute = minute
        components.second = Int(second)
        guard let base = components.date, components.isValidDate else { return nil }
        let date = base.addingTimeInterval(second - Double(Int(second)) - Double(offsetSeconds))
        return Lenient(date: date, unusualForm: zoneNote.isEmpty ? "ISO-8601 variant" : "ISO-8601 with \(zoneNote)")
    }
}
