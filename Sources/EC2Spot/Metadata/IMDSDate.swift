import Foundation

/// Parsing and formatting of the ISO-8601 UTC timestamps IMDS uses
/// (`2026-11-29T12:00:00Z`, sometimes with fractional seconds).
enum IMDSDate {
    /// Parses an IMDS timestamp, or returns `nil`.
    static func parse(_ text: String) -> Date? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, trimmed.count <= 64 else { return nil }
        if let date = try? Date(trimmed, strategy: Date.ISO8601FormatStyle()) { return date }
        return try? Date(trimmed, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    /// Formats a date as `yyyy-MM-ddTHH:mm:ssZ` (UTC).
    static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle())
    }
}
