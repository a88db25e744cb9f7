import Foundation

/// The parameters of one Query-API request, in order, with EC2's list conventions
/// (`VolumeId.1`, `Filter.1.Name`, `Filter.1.Value.1`, `TagSpecification.1.Tag.1.Key`).
struct EC2Query: Sendable, Equatable {
    /// The EC2 API version every request names.
    static let apiVersion = "2016-11-15"

    private(set) var parameters: [(String, String)]

    static func == (lhs: EC2Query, rhs: EC2Query) -> Bool {
        lhs.parameters.elementsEqual(rhs.parameters) { $0 == $1 }
    }

    init(action: String, version: String = EC2Query.apiVersion) {
        parameters = [("Action", action), ("Version", version)]
    }

    mutating func set(_ name: String, _ value: String?) {
        guard let value else { return }
        parameters.append((name, value))
    }

    mutating func set(_ name: String, _ value: Int?) {
        set(name, value.map(String.init))
    }

    mutating func set(_ name: String, _ value: Bool?) {
        set(name, value.map { $0 ? "true" : "false" })
    }

    /// `name.1=…&name.2=…`.
    mutating func list(_ name: String, _ values: [String]) {
        for (index, value) in values.enumerated() { parameters.append(("\(name).\(index + 1)", value)) }
    }

    /// `Filter.N.Name`, `Filter.N.Value.M`.
    mutating func filters(_ filters: [Filter]) {
        for (index, filter) in filters.enumerated() {
            parameters.append(("Filter.\(index + 1).Name", filter.name))
            list("Filter.\(index + 1).Value", filter.values)
        }
    }

    /// `<prefix>.N.Key`, `<prefix>.N.Value`.
    mutating func tags(_ prefix: String, _ tags: [Tag]) {
        for (index, tag) in tags.enumerated() {
            parameters.append(("\(prefix).\(index + 1).Key", tag.key))
            parameters.append(("\(prefix).\(index + 1).Value", tag.value))
        }
    }

    /// `TagSpecification.N.ResourceType`, `TagSpecification.N.Tag.M.Key/Value`.
    mutating func tagSpecifications(_ specifications: [TagSpecification]) {
        for (index, specification) in specifications.enumerated() {
            parameters.append(("TagSpecification.\(index + 1).ResourceType", specification.resourceType))
            tags("TagSpecification.\(index + 1).Tag", specification.tags)
        }
    }

    /// The `application/x-www-form-urlencoded` body (RFC 3986 encoding, as AWS expects).
    var formBody: Data {
        Data(parameters.map { SigV4Signer.percentEncode($0.0) + "=" + SigV4Signer.percentEncode($0.1) }
            .joined(separator: "&").utf8)
    }

    var action: String { parameters[0].1 }
}
