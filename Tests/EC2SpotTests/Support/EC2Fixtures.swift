import Foundation

/// Locates and decodes the JSON fixtures in `Tests/EC2SpotTests/Fixtures/`, found from this
/// source file's path so that no SwiftPM resource bundle is needed.
enum EC2Fixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()   // Support
        .deletingLastPathComponent()   // EC2SpotTests
        .appendingPathComponent("Fixtures")

    /// A SigV4 `yyyyMMdd'T'HHmmss'Z'` time (from the known-answer vectors) as a `Date`,
    /// parsed by hand (no formatter).
    static func date(amzDate: String) -> Date {
        let digits = Array(amzDate.utf8)
        func number(_ range: Range<Int>) -> Int { Int(String(decoding: digits[range], as: UTF8.self))! }
        var components = DateComponents()
        components.year = number(0..<4); components.month = number(4..<6); components.day = number(6..<8)
        components.hour = number(9..<11); components.minute = number(11..<13); components.second = number(13..<15)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.date(from: components)!
    }

    static func load<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
        let data = try Data(contentsOf: directory.appendingPathComponent(name))
        return try JSONDecoder().decode(T.self, from: data)
    }
}
