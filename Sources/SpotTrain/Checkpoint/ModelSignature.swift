/// The names, shapes and element types of a model's parameters, stored in a checkpoint so
/// that it is never restored into a different model.
public struct ModelSignature: Codable, Equatable, Sendable {
    /// One parameter of the model.
    public struct Parameter: Codable, Equatable, Sendable {
        /// The parameter's name, such as `"conv1.weight"`.
        public var name: String
        /// The parameter's shape.
        public var shape: [Int]
        /// The element type.
        public var dataType: CheckpointDataType

        /// Creates a parameter entry.
        /// - Parameters:
        ///   - name: The parameter's name.
        ///   - shape: Its shape.
        ///   - dataType: Its element type (`float32`).
        public init(name: String, shape: [Int], dataType: CheckpointDataType = .float32) {
            self.name = name
            self.shape = shape
            self.dataType = dataType
        }

        enum CodingKeys: String, CodingKey {
            case name, shape
            case dataType = "dtype"
        }

        /// Decodes an entry; `dtype` is the string `"float32"`.
        /// - Parameter decoder: The decoder.
        /// - Throws: A `DecodingError` for missing or unknown values.
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            shape = try c.decode([Int].self, forKey: .shape)
            let typeName = try c.decode(String.self, forKey: .dataType)
            guard let type = CheckpointDataType.allCases.first(where: { $0.name == typeName }) else {
                throw DecodingError.dataCorruptedError(forKey: .dataType, in: c,
                                                       debugDescription: "unknown dtype '\(typeName)'")
            }
            dataType = type
        }

        /// Encodes the entry with `dtype` as a string.
        /// - Parameter encoder: The encoder.
        /// - Throws: Whatever the encoder throws.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(name, forKey: .name)
            try c.encode(shape, forKey: .shape)
            try c.encode(dataType.name, forKey: .dataType)
        }
    }

    /// The parameters, in the model's order.
    public var parameters: [Parameter]

    /// Creates a signature.
    /// - Parameter parameters: The parameters in the model's order; names must be unique.
    public init(parameters: [Parameter]) {
        self.parameters = parameters
    }

    /// Creates a float32 signature from (name, shape) pairs.
    /// - Parameter parameters: The parameters in the model's order.
    public init(_ parameters: [(name: String, shape: [Int])]) {
        self.parameters = parameters.map { Parameter(name: $0.name, shape: $0.shape) }
    }

    /// Checks that this (stored) signature matches `expected` (the model being restored).
    ///
    /// Order does not matter; names identify parameters. The first problem is reported:
    /// walking `expected` in order, a parameter missing from this signature or with a
    /// different shape or type; then, walking this signature in order, a parameter the
    /// model does not have.
    /// - Parameter expected: The model's signature.
    /// - Throws: ``CheckpointError`` with code ``CheckpointError/Code/signatureMismatch``
    ///   whose message names the parameter.
    public func verify(against expected: ModelSignature) throws {
        var stored: [String: Parameter] = [:]
        for p in parameters { stored[p.name] = p }
        var expectedNames = Set<String>()
        for p in expected.parameters {
            expectedNames.insert(p.name)
            guard let s = stored[p.name] else {
                throw CheckpointError(.signatureMismatch,
                                      "parameter '\(p.name)' (shape \(p.shape)) of the model is missing from the checkpoint")
            }
            if s.shape != p.shape {
                throw CheckpointError(.signatureMismatch,
                                      "parameter '\(p.name)' has shape \(s.shape) in the checkpoint but \(p.shape) in the model")
            }
            if s.dataType != p.dataType {
                throw CheckpointError(.signatureMismatch,
                                      "parameter '\(p.name)' has type \(s.dataType.name) in the checkpoint but \(p.dataType.name) in the model")
            }
        }
        if let extra = parameters.first(where: { !expectedNames.contains($0.name) }) {
            throw CheckpointError(.signatureMismatch,
                                  "parameter '\(extra.name)' (shape \(extra.shape)) is in the checkpoint but not in the model")
        }
    }

    /// Rejects duplicate names and negative or overflowing shapes in a decoded signature.
    func validate(path: String?) throws {
        var seen = Set<String>()
        for p in parameters {
            guard seen.insert(p.name).inserted else {
                throw CheckpointError(.invalidMetadata, "model signature lists parameter '\(p.name)' twice", path: path)
            }
            guard p.shape.count <= CheckpointFormat.maximumRank else {
                throw CheckpointError(.invalidMetadata,
                                      "model signature parameter '\(p.name)' has rank \(p.shape.count) (limit \(CheckpointFormat.maximumRank))", path: path)
            }
            var n = 1
            for d in p.shape {
                let (product, overflow) = n.multipliedReportingOverflow(by: d)
                guard d >= 0, !overflow else {
                    throw CheckpointError(.invalidMetadata,
                                          "model signature parameter '\(p.name)' has an invalid shape \(p.shape)", path: path)
                }
                n = product
            }
        }
    }
}
