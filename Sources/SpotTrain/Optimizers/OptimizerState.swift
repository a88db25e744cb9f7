/// The complete, serialisable state of an ``Optimizer``.
///
/// Everything an optimizer needs to continue bit-identically after a restart: its kind
/// (`"Adam"`, `"SGD"`), its hyperparameters, its step count, and its slot tensors named
/// `"<parameter name>.<slot>"` (`conv1.weight.m`, `conv1.weight.v` for Adam,
/// `conv1.weight.momentum` for SGD with momentum). Each slot has its parameter's shape.
/// Checkpoints store this value as it is.
public struct OptimizerState {
    /// The optimizer type that produced the state (`Adam.kind`, `SGD.kind`).
    public var kind: String
    /// Hyperparameters by name (`learningRate`, `beta1`, …); flags are stored as 0 or 1.
    public var hyperparameters: [String: Double]
    /// The number of steps taken.
    public var stepCount: Int
    /// Per-parameter state tensors by `"<parameter name>.<slot>"`.
    public var slots: [String: Tensor]

    /// Creates a state value.
    /// - Parameters:
    ///   - kind: The optimizer kind.
    ///   - hyperparameters: Hyperparameters by name.
    ///   - stepCount: The number of steps taken.
    ///   - slots: Slot tensors by `"<parameter name>.<slot>"`, each of its parameter's shape.
    public init(kind: String, hyperparameters: [String: Double], stepCount: Int,
                slots: [String: Tensor]) {
        self.kind = kind
        self.hyperparameters = hyperparameters
        self.stepCount = stepCount
        self.slots = slots
    }
}

/// Why an ``OptimizerState`` cannot be imported.
public struct OptimizerStateError: Error, Equatable, CustomStringConvertible {
    /// The kind of failure.
    public enum Code: Equatable, Sendable {
        /// The state belongs to another optimizer type.
        case kindMismatch
        /// A required hyperparameter is absent.
        case missingHyperparameter
        /// A hyperparameter is not finite or outside its valid range.
        case invalidHyperparameter
        /// The step count is negative.
        case invalidStepCount
        /// A parameter's slot is absent.
        case missingSlot
        /// A slot's shape differs from its parameter's shape.
        case slotShapeMismatch
        /// The state holds a slot for no given parameter (a different model).
        case unexpectedSlot
    }

    /// The kind of failure.
    public let code: Code
    /// A human-readable explanation naming the values involved.
    public let message: String
    /// The parameter concerned, if any.
    public let parameter: String?
    /// The slot (`"conv1.weight.m"`) or hyperparameter concerned, if any.
    public let key: String?
    /// The shape the optimizer expected (the parameter's), for shape mismatches.
    public let expectedShape: [Int]?
    /// The shape found in the state, for shape mismatches.
    public let foundShape: [Int]?

    /// Creates an error.
    /// - Parameters:
    ///   - code: The kind of failure.
    ///   - message: The explanation.
    ///   - parameter: The parameter concerned.
    ///   - key: The slot or hyperparameter concerned.
    ///   - expectedShape: The expected shape.
    ///   - foundShape: The shape found.
    public init(code: Code, message: String, parameter: String? = nil, key: String? = nil,
                expectedShape: [Int]? = nil, foundShape: [Int]? = nil) {
        self.code = code
        self.message = message
        self.parameter = parameter
        self.key = key
        self.expectedShape = expectedShape
        self.foundShape = foundShape
    }

    /// `"OptimizerStateError.<code>: <message>"`.
    public var description: String { "OptimizerStateError.\(code): \(message)" }
}

// MARK: - Validation shared by the optimizers

extension OptimizerState {
    /// Throws unless `kind` matches and the step count is not negative.
    func validateHeader(kind expected: String) throws {
        guard kind == expected else {
            throw OptimizerStateError(code: .kindMismatch,
                                      message: "state is for optimizer '\(kind)', not '\(expected)'",
                                      key: kind)
        }
        guard stepCount >= 0 else {
            throw OptimizerStateError(code: .invalidStepCount,
                                      message: "step count \(stepCount) is negative")
        }
    }

    /// The named hyperparameter, which must be present, finite and satisfy `isValid`.
    func hyperparameter(_ name: String, _ requirement: String,
                        _ isValid: (Double) -> Bool) throws -> Double {
        guard let value = hyperparameters[name] else {
            throw OptimizerStateError(code: .missingHyperparameter,
                                      message: "\(kind) state has no hyperparameter '\(name)'",
                                      key: name)
        }
        guard value.isFinite, isValid(value) else {
            throw OptimizerStateError(code: .invalidHyperparameter,
                                      message: "\(kind) hyperparameter '\(name)' is \(value); it must be \(requirement)",
                                      key: name)
        }
        return value
    }

    /// A flag stored as 0 or 1.
    func flag(_ name: String) throws -> Bool {
        try hyperparameter(name, "0 or 1") { $0 == 0 || $0 == 1 } == 1
    }

    /// A learning rate that is non-negative and finite as a `Float`.
    func learningRate() throws -> Double {
        let value = try hyperparameter("learningRate", "finite and at least 0 as a Float") {
            $0 >= 0 && Float($0).isFinite
        }
        return value
    }

    /// Validates the slots for `parameters` and returns independent copies, indexed like
    /// `suffixes`, by parameter name.
    ///
    /// With a step count of 0 an absent slot is created as zeros (a state exported before
    /// the first step has no slots yet); otherwise every slot must be present.
    func slotCopies(suffixes: [String], for parameters: [Parameter]) throws -> [String: [Tensor]] {
        var result: [String: [Tensor]] = [:]
        var expected = Set<String>()
        for parameter in parameters {
            precondition(result[parameter.name] == nil,
                         "\(kind).importState: parameter name '\(parameter.name)' appears twice")
            var tensors: [Tensor] = []
            tensors.reserveCapacity(suffixes.count)
            for suffix in suffixes {
                let key = "\(parameter.name).\(suffix)"
                expected.insert(key)
                let shape = parameter.value.shape
                guard let slot = slots[key] else {
                    guard stepCount == 0 else {
                        throw OptimizerStateError(
                            code: .missingSlot,
                            message: "\(kind) state after \(stepCount) steps has no slot '\(key)' for parameter '\(parameter.name)'",
                            parameter: parameter.name, key: key)
                    }
                    tensors.append(Tensor.zeros(shape))
                    continue
                }
                guard slot.shape == shape else {
                    throw OptimizerStateError(
                        code: .slotShapeMismatch,
                        message: "\(kind) slot '\(key)' has shape \(slot.shape) but parameter '\(parameter.name)' has shape \(shape)",
                        parameter: parameter.name, key: key, expectedShape: shape, foundShape: slot.shape)
                }
                tensors.append(slot.copy())
            }
            result[parameter.name] = tensors
        }
        if let extra = slots.keys.sorted().first(where: { !expected.contains($0) }) {
            throw OptimizerStateError(
                code: .unexpectedSlot,
                message: "\(kind) state has slot '\(extra)', which belongs to none of the \(parameters.count) given parameters",
                key: extra)
        }
        return result
    }
}
