/// A resource tag (key and value). EC2 keys are case-sensitive, at most 128 characters.
public struct Tag: Sendable, Hashable, Codable {
    /// The key, for example `spottrain:volume`.
    public var key: String
    /// The value (may be empty).
    public var value: String

    /// Creates a tag.
    /// - Parameters:
    ///   - key: The key.
    ///   - value: The value.
    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

/// A `Describe*` filter: matches when the named field equals any of `values`.
public struct Filter: Sendable, Hashable {
    /// The filter name, for example `tag:spottrain:volume`, `status` or `availability-zone`.
    public var name: String
    /// The accepted values (`*` and `?` wildcards are allowed by EC2).
    public var values: [String]

    /// Creates a filter.
    /// - Parameters:
    ///   - name: The filter name.
    ///   - values: The accepted values; must not be empty.
    public init(name: String, values: [String]) {
        precondition(!values.isEmpty, "Filter \(name): values must not be empty")
        self.name = name
        self.values = values
    }

    /// Matches resources carrying tag `key` with one of `values`.
    /// - Parameters:
    ///   - key: The tag key.
    ///   - values: The accepted tag values.
    /// - Returns: The filter `tag:<key>`.
    public static func tag(_ key: String, _ values: String...) -> Filter {
        Filter(name: "tag:\(key)", values: values)
    }
}

/// Tags to apply to a resource as it is created.
public struct TagSpecification: Sendable, Hashable {
    /// The resource type: `volume`, `instance`, `snapshot`, `spot-instances-request`, ….
    public var resourceType: String
    /// The tags.
    public var tags: [Tag]

    /// Creates a tag specification.
    /// - Parameters:
    ///   - resourceType: The type of resource being created.
    ///   - tags: The tags to apply.
    public init(resourceType: String, tags: [Tag]) {
        self.resourceType = resourceType
        self.tags = tags
    }
}

extension Array where Element == Tag {
    /// The value of the tag named `key`, if present.
    /// - Parameter key: The tag key.
    /// - Returns: Its value, or nil.
    public func value(for key: String) -> String? {
        first { $0.key == key }?.value
    }
}
