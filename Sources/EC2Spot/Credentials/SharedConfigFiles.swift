import Foundation

/// The AWS shared credentials file (`~/.aws/credentials`) and config file (`~/.aws/config`).
///
/// Paths come from `AWS_SHARED_CREDENTIALS_FILE` and `AWS_CONFIG_FILE`, else from `$HOME/.aws`.
/// A missing file counts as empty. Both are INI files: the credentials file names sections
/// `[name]`, the config file `[profile name]` (and `[default]`).
public struct SharedConfigFiles: Sendable, Equatable {
    /// The credentials file path (nil: none).
    public var credentialsPath: String?
    /// The config file path (nil: none).
    public var configPath: String?

    /// Files larger than this are rejected (real ones are a few KiB).
    public static let maximumFileSize = 1 << 20

    /// Creates the file pair from explicit paths.
    /// - Parameters:
    ///   - credentialsPath: The credentials file.
    ///   - configPath: The config file.
    public init(credentialsPath: String?, configPath: String?) {
        self.credentialsPath = credentialsPath
        self.configPath = configPath
    }

    /// Resolves the paths the way the AWS CLI does.
    /// - Parameter environment: Reads `AWS_SHARED_CREDENTIALS_FILE`, `AWS_CONFIG_FILE`, `HOME`.
    public init(environment: [String: String]) {
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 }
        func expand(_ path: String) -> String {
            guard path.hasPrefix("~/"), let home else { return path }
            return home + path.dropFirst(1)
        }
        credentialsPath = environment["AWS_SHARED_CREDENTIALS_FILE"].flatMap { $0.isEmpty ? nil : expand($0) }
            ?? home.map { $0 + "/.aws/credentials" }
        configPath = environment["AWS_CONFIG_FILE"].flatMap { $0.isEmpty ? nil : expand($0) }
            ?? home.map { $0 + "/.aws/config" }
    }

    /// The profile to use: `AWS_PROFILE`, else `AWS_DEFAULT_PROFILE`, else `default`.
    /// - Parameter environment: The environment variables.
    /// - Returns: The profile name.
    public static func profileName(environment: [String: String]) -> String {
        for key in ["AWS_PROFILE", "AWS_DEFAULT_PROFILE"] {
            if let value = environment[key], !value.isEmpty { return value }
        }
        return "default"
    }

    /// The settings of `profile`: the config file's section overlaid by the credentials file's.
    /// - Parameter profile: The profile name.
    /// - Returns: Lowercased keys to values (empty if the profile exists in neither file).
    /// - Throws: ``CredentialsError`` if a file exists but cannot be read or is too large.
    public func settings(profile: String) throws -> [String: String] {
        var merged: [String: String] = [:]
        if let configPath, let text = try Self.read(configPath) {
            let section = profile == "default" ? "default" : "profile \(profile)"
            var sections = Self.parseINI(text)
            // The CLI also accepts "[profile default]".
            if profile == "default", sections["default"] == nil { sections["default"] = sections["profile default"] }
            merged.merge(sections[section] ?? [:]) { _, new in new }
        }
        if let credentialsPath, let text = try Self.read(credentialsPath) {
            merged.merge(Self.parseINI(text)[profile] ?? [:]) { _, new in new }
        }
        return merged
    }

    static func read(_ path: String) throws -> String? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let url = URL(fileURLWithPath: path)
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        if size > maximumFileSize {
            throw CredentialsError(provider: "profile", message: "\(path) is larger than \(maximumFileSize) bytes")
        }
        do {
            return String(decoding: try Data(contentsOf: url), as: UTF8.self)
        } catch {
            throw CredentialsError(provider: "profile", message: "cannot read \(path): \(error.localizedDescription)")
        }
    }

    /// Parses INI text into `section → key → value`. Section names are trimmed and have
    /// runs of spaces collapsed; keys are lowercased; `#` and `;` start comment lines;
    /// indented lines (sub-settings such as `s3 =`) are ignored.
    static func parseINI(_ text: String) -> [String: [String: String]] {
        var sections: [String: [String: String]] = [:]
        var current: String?
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            let isIndented = rawLine.first == " " || rawLine.first == "\t"
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                let name = line.dropFirst().dropLast().split(separator: " ", omittingEmptySubsequences: true)
                    .joined(separator: " ")
                current = name
                if sections[name] == nil { sections[name] = [:] }
                continue
            }
            guard let current, !isIndented, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            sections[current]?[key] = value
        }
        return sections
    }
}
