import Foundation

/// Locates and decodes the JSON fixtures in `Tests/EC2SpotTests/Fixtures/`, found from this
/// source file's path so that no SwiftPM resource bundle is needed.
enum EC2Fixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()   // Support
        .deletingLastPathComponent()   // EC2SpotTests
        .appendingPathComponent("Fixtures")

    static func load<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
        let data = try Data(contentsOf: directory.appendingPathComponent(name))
        return try JSONDecoder().decode(T.self, from: data)
    }
}
