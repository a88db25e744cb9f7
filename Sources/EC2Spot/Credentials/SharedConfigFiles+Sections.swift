import Foundation

extension SharedConfigFiles {
    /// Whether `profile` has a section in either file (`[name]` in the credentials file,
    /// `[profile name]`, or `[default]` for `default`, in the config file).
    /// - Parameter profile: The profile name.
    /// - Returns: True when a section exists, even an empty one.
    /// - Throws: ``CredentialsError`` if a file exists but cannot be read.
    public func profileExists(_ profile: String) throws -> Bool {
        if let configPath, let text = try Self.read(configPath) {
            let sections = Self.parseINI(text)
            if sections["profile \(profile)"] != nil || (profile == "default" && sections["default"] != nil) {
                return true
            }
        }
        if let credentialsPath, let text = try Self.read(credentialsPath), Self.parseINI(text)[profile] != nil {
            return true
        }
        return false
    }

    /// The `[services NAME]` section of the config file: service key (`ec2`, `s3`, …) to its
    /// indented sub-settings, for example `ec2 =` followed by `  endpoint_url = http://…`.
    /// - Parameter name: The section name after `services`.
    /// - Returns: Service key → lowercased setting → value (empty when absent).
    /// - Throws: ``CredentialsError`` if the config file exists but cannot be read.
    public func servicesSection(_ name: String) throws -> [String: [String: String]] {
        guard let configPath, let text = try Self.read(configPath) else { return [:] }
        return Self.parseServicesSection(text, name: name)
    }

    /// Parses the nested settings of `[services name]` in config-file text.
    static func parseServicesSection(_ text: String, name: String) -> [String: [String: String]] {
        var result: [String: [String: String]] = [:]
        var inSection = false
        var service: String?
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            let isIndented = rawLine.first == " " || rawLine.first == "\t"
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                let header = line.dropFirst().dropLast().split(separator: " ", omittingEmptySubsequences: true)
                inSection = header.count == 2 && header[0] == "services" && header[1] == name
                service = nil
                continue
            }
            guard inSection, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if isIndented {
                if let service { result[service, default: [:]][key] = value }
            } else {
                service = value.isEmpty ? key : nil
                if let service, result[service] == nil { result[service] = [:] }
            }
        }
        return result
    }
}
