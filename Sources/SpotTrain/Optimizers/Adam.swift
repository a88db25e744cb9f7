import CSpotKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Adam (Kingma & Ba, 2015) with bias correction and optional decoupled weight decay
/// (AdamW, Loshchilov & Hutter, 2019), in PyTorch's formulation.
///
/// For each parameter `p` with gradient `g`, at step `t` (1-based):
/// ```
/// p ← p − lr·wd·p                                   (decoupled weight decay, if wd > 0)
/// m ← β₁·m + (1 − β₁)·g
/// v ← β₂·v + (1 − β₂)·g²
/// m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)             (bias correction)
/// p ← p − lr · m̂ / (√v̂ + ε)
/// ```
/// This is `torch.optim.Adam` / `torch.optim.AdamW`. Keras's Adam differs only in where ε
/// goes: it computes `p ← p − lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ) · m / (√v + ε)`, which equals the
/// formula above with ε scaled by `√(1 − β₂ᵗ)`; the two agree closely except where `√v̂` is
/// comparable to ε. The default ε is Keras's `1e-7` (PyTorch's is `1e-8`) to match the
/// Keras mnist_cnn this project reproduces.
///
/// The bias-correction factors are computed in `Double` once per step; the element loop is
/// one fused `Float` pass per parameter over its value, gradient and both moments,
/// split across threads for large tensors. Each element is computed the same way on any
/// thread, so results do not depend on the thread count.
///
/// State: slots `"<name>.m"` (first moment) and `"<name>.v"` (second moment), created as
/// zeros the first time a parameter name is stepped, and the step count `t`, shared by all
/// parameters.
public final class Adam: Optimizer {
    /// The ``OptimizerState/kind`` this type exports and accepts: `"Adam"`.
    public static let kind = "Adam"

    /// The step size `lr`: at least 0 and finite as a `Float`. The update uses the nearest
    /// `Float` to it.
    public var learningRate: Double {
        didSet {
            precondition(learningRate >= 0 && Float(learningRate).isFinite,
                         "Adam: learningRate must be >= 0 and finite as a Float, got \(learningRate)")
        }
    }
    // Every hyperparameter may be changed between steps (for example after a resume, which
    // restores the checkpoint's values); each is part of the exported state.

    /// The decay rate of the first moment, in `[0, 1)`.
    public var beta1: Double {
        didSet { precondition(beta1 >= 0 && beta1 < 1, "Adam: beta1 must be in [0, 1), got \(beta1)") }
    }
    /// The decay rate of the second moment, in `[0, 1)`.
    public var beta2: Double {
        didSet { precondition(beta2 >= 0 && beta2 < 1, "Adam: beta2 must be in [0, 1), got \(beta2)") }
    }
    /// The term added to `√v̂` for numerical stability, finite and at least 0.
    public var epsilon: Double {
        didSet { precondition(epsilon.isFinite && epsilon >= 0, "Adam: epsilon must be finite and >= 0, got \(epsilon)") }
    }
    /// The decoupled weight-decay rate `wd` (AdamW), finite and at least 0.
    public var weightDecay: Double {
        didSet {
            precondition(weightDecay.isFinite && weightDecay >= 0,
                         "Adam: weightDecay must be finite and >= 0, got \(weightDecay)")
        }
    }
    /// Whether the moments are divided by `1 − βᵗ` (on by default, as in PyTorch and Keras).
    public var biasCorrection: Bool
    /// The number of steps taken (`t` after the last step).
    public private(set) var stepCount: Int = 0

    /// The moments by parameter name.
    private var moments: [String: Moments] = [:]

    /// The two slots of one parameter.
    private final class Moments {
        let first: Tensor
        let second: Tensor
        init(first: Tensor, second: Tensor) {
            self.first = first
            self.second = second
        }
    }

    /// Creates an Adam optimizer.
    ///
    /// Every hyperparameter is a `Double`: the coefficients the element loop uses (`β`,
    /// `1 − β`, `ε`, `1 − lr·wd`, `lr/(1 − β₁ᵗ)`, `1/√(1 − β₂ᵗ)`) are computed in `Double`
    /// once per step and rounded to `Float` once, as PyTorch does with its Python-float
    /// hyperparameters. The learning rate enters them as the nearest `Float` (the precision
    /// of the parameters it scales).
    /// - Parameters:
    ///   - learningRate: The step size `lr` (default `1e-3`), at least 0 and finite as a `Float`.
    ///   - beta1: The first-moment decay `β₁` (default `0.9`), in `[0, 1)`.
    ///   - beta2: The second-moment decay `β₂` (default `0.999`), in `[0, 1)`.
    ///   - epsilon: The stability term `ε` (default `1e-7`, Keras's), at least 0.
    ///   - weightDecay: The decoupled weight decay `wd` (default 0: plain Adam), at least 0.
    ///   - biasCorrection: Whether to apply bias correction (default `true`).
    public init(learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999,
                epsilon: Double = 1e-7, weightDecay: Double = 0, biasCorrection: Bool = true) {
        precondition(learningRate >= 0 && Float(learningRate).isFinite,
                     "Adam: learningRate must be >= 0 and finite as a Float, got \(learningRate)")
        precondition(beta1 >= 0 && beta1 < 1, "Adam: beta1 must be in [0, 1), got \(beta1)")
        precondition(beta2 >= 0 && beta2 < 1, "Adam: beta2 must be in [0, 1), got \(beta2)")
        precondition(epsilon.isFinite && epsilon >= 0, "Adam: epsilon must be finite and >= 0, got \(epsilon)")
        precondition(weightDecay.isFinite && weightDecay >= 0,
                     "Adam: weightDecay must be finite and >= 0, got \(weightDecay)")
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.biasCorrection = biasCorrection
    }

    /// Applies one Adam step to every parameter (see the type's formula); increments
    /// ``stepCount`` first, so the first step uses `t = 1`.
    /// - Parameter parameters: The parameters; unique names, shapes fixed per name.
    public func step(_ parameters: [Parameter]) {
        stepCount += 1
        let t = Double(stepCount)
        // The learning rate as the parameters' precision, once per step.
        let lr = Double(Float(learningRate))
        let correction1 = biasCorrection ? 1 - pow(beta1, t) : 1
        let correction2 = biasCorrection ? 1 - pow(beta2, t) : 1
        let c = Coefficients(
            beta1: Float(beta1), oneMinusBeta1: Float(1 - beta1),
            beta2: Float(beta2), oneMinusBeta2: Float(1 - beta2),
            epsilon: Float(epsilon),
            decay: Float(1 - lr * weightDecay),
            stepSize: Float(lr / correction1),
            inverseRootCorrection2: Float(1 / correction2.squareRoot()))

        var seen = Set<String>()
        seen.reserveCapacity(parameters.count)
        for parameter in parameters {
            precondition(seen.insert(parameter.name).inserted,
                         "Adam.step: parameter name '\(parameter.name)' appears twice")
            let slot = moments(for: parameter)
            Adam.update(value: parameter.value.pointer, gradient: parameter.gradient.pointer,
                        first: slot.first.pointer, second: slot.second.pointer,
                        count: parameter.value.count, c)
        }
    }

    /// Per-step constants of the element loop.
    private struct Coefficients {
        var beta1, oneMinusBeta1, beta2, oneMinusBeta2, epsilon: Float
        var decay, stepSize, inverseRootCorrection2: Float
    }

    /// The fused element loop: value, gradient, m and v all have `count` elements.
    private static func update(value: UnsafeMutablePointer<Float>, gradient: UnsafeMutablePointer<Float>,
                               first: UnsafeMutablePointer<Float>, second: UnsafeMutablePointer<Float>,
                               count: Int, _ c: Coefficients) {
        // 4 streams of 4 bytes per element: below ~32k elements a thread hand-off costs
        // more than the loop. The loop is C (`spot_adam_update`): Swift's `squareRoot()`
        // becomes a libm call that keeps LLVM from vectorising it.
        Parallel.forChunks(count: count, minimumChunk: 1 << 15) { range in
            let i = range.lowerBound
            spot_adam_update(value + i, gradient + i, first + i, second + i, range.count,
                             c.beta1, c.oneMinusBeta1, c.beta2, c.oneMinusBeta2, c.epsilon,
                             c.decay, c.stepSize, c.inverseRootCorrection2)
        }
    }

    /// The moments of `parameter`, created as zeros on first use.
    private func moments(for parameter: Parameter) -> Moments {
        let shape = parameter.value.shape
        if let existing = moments[parameter.name] {
            precondition(existing.first.shape == shape,
                         "Adam.step: parameter '\(parameter.name)' has shape \(shape) but its moments have shape \(existing.first.shape)")
            return existing
        }
        let created = Moments(first: Tensor.zeros(shape), second: Tensor.zeros(shape))
        moments[parameter.name] = created
        return created
    }

    // MARK: State

    /// The state: hyperparameters `learningRate`, `beta1`, `beta2`, `epsilon`, `weightDecay`,
    /// `biasCorrection` (0/1), the step count, and slots `"<name>.m"`, `"<name>.v"` (copies).
    /// - Returns: The state; before the first step it has no slots.
    public func exportState() -> OptimizerState {
        var slots: [String: Tensor] = [:]
        for (name, slot) in moments {
            slots["\(name).m"] = slot.first.copy()
            slots["\(name).v"] = slot.second.copy()
        }
        return OptimizerState(
            kind: Adam.kind,
            hyperparameters: [
                "learningRate": learningRate, "beta1": beta1, "beta2": beta2,
                "epsilon": epsilon, "weightDecay": weightDecay,
                "biasCorrection": biasCorrection ? 1 : 0,
            ],
            stepCount: stepCount, slots: slots)
    }

    /// Restores hyperparameters, step count and moments from `state` (see
    /// ``Optimizer/importState(_:for:)``); nothing changes if it throws.
    /// - Parameters:
    ///   - state: A state exported by an ``Adam``.
    ///   - parameters: The parameters to be stepped next; each needs slots `.m` and `.v`
    ///     of its shape.
    /// - Throws: ``OptimizerStateError``.
    public func importState(_ state: OptimizerState, for parameters: [Parameter]) throws {
        try state.validateHeader(kind: Adam.kind)
        let learningRate = try state.learningRate()
        let beta1 = try state.hyperparameter("beta1", "in [0, 1)") { $0 >= 0 && $0 < 1 }
        let beta2 = try state.hyperparameter("beta2", "in [0, 1)") { $0 >= 0 && $0 < 1 }
        let epsilon = try state.hyperparameter("epsilon", "at least 0") { $0 >= 0 }
        let weightDecay = try state.hyperparameter("weightDecay", "at least 0") { $0 >= 0 }
        let biasCorrection = try state.flag("biasCorrection")
        let slots = try state.slotCopies(suffixes: ["m", "v"], for: parameters)

        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.biasCorrection = biasCorrection
        self.stepCount = state.stepCount
        moments = slots.mapValues { Moments(first: $0[0], second: $0[1]) }
    }
}
