/// Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay,
/// in PyTorch's formulation (`torch.optim.SGD` with dampening 0).
///
/// For each parameter `p` with gradient `g`:
/// ```
/// d ← g + wd·p                        (L2 weight decay, coupled: it enters the momentum)
/// b ← μ·b + d                         (if μ > 0; b starts at 0, so the first step gives b = d)
/// d ← d + μ·b   if Nesterov,  else d ← b
/// p ← p − lr·d
/// ```
/// Unlike ``Adam``'s decoupled decay, `wd` here is added to the gradient, as PyTorch's SGD
/// does. With `μ = 0` there is no state apart from the step count.
///
/// State: slot `"<name>.momentum"` (the buffer `b`) when `μ > 0`, created as zeros the first
/// time a parameter name is stepped.
public final class SGD: Optimizer {
    /// The ``OptimizerState/kind`` this type exports and accepts: `"SGD"`.
    public static let kind = "SGD"

    /// The step size `lr`: at least 0 and finite as a `Float`. The update uses the nearest
    /// `Float` to it.
    public var learningRate: Double {
        didSet {
            precondition(learningRate >= 0 && Float(learningRate).isFinite,
                         "SGD: learningRate must be >= 0 and finite as a Float, got \(learningRate)")
        }
    }
    // Every hyperparameter may be changed between steps (for example after a resume, which
    // restores the checkpoint's values); each is part of the exported state.

    /// The momentum factor `μ`, finite and at least 0 (0: plain SGD). Setting it to 0 drops
    /// the momentum buffers (turn ``nesterov`` off first); raising it from 0 starts them at zeros.
    public var momentum: Double {
        didSet {
            precondition(momentum.isFinite && momentum >= 0, "SGD: momentum must be finite and >= 0, got \(momentum)")
            precondition(!nesterov || momentum > 0, "SGD: Nesterov momentum needs momentum > 0; turn nesterov off first")
            if momentum == 0 { buffers = [:] }
        }
    }
    /// Whether to use Nesterov momentum (requires `μ > 0`).
    public var nesterov: Bool {
        didSet { precondition(!nesterov || momentum > 0, "SGD: Nesterov momentum needs momentum > 0, got \(momentum)") }
    }
    /// The L2 weight-decay rate `wd`, finite and at least 0.
    public var weightDecay: Double {
        didSet {
            precondition(weightDecay.isFinite && weightDecay >= 0,
                         "SGD: weightDecay must be finite and >= 0, got \(weightDecay)")
        }
    }
    /// The number of steps taken.
    public private(set) var stepCount: Int = 0

    /// The momentum buffers by parameter name (empty when `momentum == 0`).
    private var buffers: [String: Tensor] = [:]

    /// Creates an SGD optimizer.
    /// - Parameters:
    ///   - learningRate: The step size `lr`, at least 0 and finite as a `Float`.
    ///
    /// Every hyperparameter is a `Double`; the element loop uses each as the nearest `Float`,
    /// rounded once per step.
    ///   - momentum: The momentum factor `μ` (default 0), finite and at least 0.
    ///   - nesterov: Whether to use Nesterov momentum (default `false`); needs `μ > 0`.
    ///   - weightDecay: The L2 penalty `wd` added to the gradient (default 0), at least 0.
    public init(learningRate: Double, momentum: Double = 0, nesterov: Bool = false,
                weightDecay: Double = 0) {
        precondition(learningRate >= 0 && Float(learningRate).isFinite,
                     "SGD: learningRate must be >= 0 and finite as a Float, got \(learningRate)")
        precondition(momentum.isFinite && momentum >= 0, "SGD: momentum must be finite and >= 0, got \(momentum)")
        precondition(!nesterov || momentum > 0, "SGD: Nesterov momentum needs momentum > 0, got \(momentum)")
        precondition(weightDecay.isFinite && weightDecay >= 0,
                     "SGD: weightDecay must be finite and >= 0, got \(weightDecay)")
        self.learningRate = learningRate
        self.momentum = momentum
        self.nesterov = nesterov
        self.weightDecay = weightDecay
    }

    /// Applies one SGD step to every parameter (see the type's formula) and increments
    /// ``stepCount``.
    /// - Parameter parameters: The parameters; unique names, shapes fixed per name.
    public func step(_ parameters: [Parameter]) {
        stepCount += 1
        let c = Coefficients(learningRate: Float(learningRate), momentum: Float(momentum),
                             weightDecay: Float(weightDecay), decays: weightDecay != 0,
                             nesterov: nesterov)
        var seen = Set<String>()
        seen.reserveCapacity(parameters.count)
        for parameter in parameters {
            precondition(seen.insert(parameter.name).inserted,
                         "SGD.step: parameter name '\(parameter.name)' appears twice")
            let count = parameter.value.count
            let value = parameter.value.pointer, gradient = parameter.gradient.pointer
            if momentum == 0 {
                SGD.update(value: value, gradient: gradient, count: count, c)
            } else {
                SGD.update(value: value, gradient: gradient, buffer: buffer(for: parameter).pointer,
                           count: count, c)
            }
        }
    }

    /// Per-step constants of the element loops.
    private struct Coefficients {
        var learningRate, momentum, weightDecay: Float
        var decays, nesterov: Bool
    }

    /// Plain SGD: `p ← p − lr·(g + wd·p)`.
    private static func update(value: UnsafeMutablePointer<Float>, gradient: UnsafeMutablePointer<Float>,
                               count: Int, _ c: Coefficients) {
        Parallel.forChunks(count: count, minimumChunk: 1 << 15) { range in
            for i in range {
                let p = value[i]
                let d = c.decays ? gradient[i] + c.weightDecay * p : gradient[i]
                value[i] = p - c.learningRate * d
            }
        }
    }

    /// SGD with a momentum buffer of `count` elements.
    private static func update(value: UnsafeMutablePointer<Float>, gradient: UnsafeMutablePointer<Float>,
                               buffer: UnsafeMutablePointer<Float>, count: Int, _ c: Coefficients) {
        Parallel.forChunks(count: count, minimumChunk: 1 << 15) { range in
            for i in range {
                let p = value[i]
                let d = c.decays ? gradient[i] + c.weightDecay * p : gradient[i]
                let b = c.momentum * buffer[i] + d
                buffer[i] = b
                let direction = c.nesterov ? d + c.momentum * b : b
                value[i] = p - c.learningRate * direction
            }
        }
    }

    /// The momentum buffer of `parameter`, created as zeros on first use.
    private func buffer(for parameter: Parameter) -> Tensor {
        let shape = parameter.value.shape
        if let existing = buffers[parameter.name] {
            precondition(existing.shape == shape,
                         "SGD.step: parameter '\(parameter.name)' has shape \(shape) but its momentum buffer has shape \(existing.shape)")
            return existing
        }
        let created = Tensor.zeros(shape)
        buffers[parameter.name] = created
        return created
    }

    // MARK: State

    /// The state: hyperparameters `learningRate`, `momentum`, `nesterov` (0/1),
    /// `weightDecay`, the step count, and slots `"<name>.momentum"` (copies) when `μ > 0`.
    /// - Returns: The state; before the first step it has no slots.
    public func exportState() -> OptimizerState {
        var slots: [String: Tensor] = [:]
        for (name, buffer) in buffers { slots["\(name).momentum"] = buffer.copy() }
        return OptimizerState(
            kind: SGD.kind,
            hyperparameters: [
                "learningRate": learningRate, "momentum": momentum,
                "nesterov": nesterov ? 1 : 0, "weightDecay": weightDecay,
            ],
            stepCount: stepCount, slots: slots)
    }

    /// Restores hyperparameters, step count and momentum buffers from `state` (see
    /// ``Optimizer/importState(_:for:)``); nothing changes if it throws.
    /// - Parameters:
    ///   - state: A state exported by an ``SGD``.
    ///   - parameters: The parameters to be stepped next; with momentum each needs a slot
    ///     `.momentum` of its shape.
    /// - Throws: ``OptimizerStateError``.
    public func importState(_ state: OptimizerState, for parameters: [Parameter]) throws {
        try state.validateHeader(kind: SGD.kind)
        let learningRate = try state.learningRate()
        let momentum = try state.hyperparameter("momentum", "at least 0") { $0 >= 0 }
        let nesterov = try state.flag("nesterov")
        if nesterov && momentum == 0 {
            throw OptimizerStateError(code: .invalidHyperparameter,
                                      message: "SGD state has nesterov = 1 with momentum 0",
                                      key: "nesterov")
        }
        let weightDecay = try state.hyperparameter("weightDecay", "at least 0") { $0 >= 0 }
        let slots = try state.slotCopies(suffixes: momentum > 0 ? ["momentum"] : [], for: parameters)

        self.learningRate = learningRate
        self.nesterov = false   // validated above; off first so that each didSet sees a valid pair
        self.momentum = momentum
        self.nesterov = nesterov
        self.weightDecay = weightDecay
        self.stepCount = state.stepCount
        buffers = momentum > 0 ? slots.mapValues { $0[0] } : [:]
    }
}
