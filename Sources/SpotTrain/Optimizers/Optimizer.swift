/// Updates parameters from their gradients.
///
/// An optimizer keeps per-parameter state (moments, momentum buffers) keyed by the
/// parameter's dotted ``Parameter/name``, not by object identity: a model that is rebuilt on
/// resume gets new ``Parameter`` objects with the same names, and ``importState(_:for:)``
/// attaches the saved state to them. Pass the parameters in the same fixed order on every
/// step (``Layer/parameters`` does this).
///
/// Conforming types: ``SGD`` (simplest) and ``Adam``.
public protocol Optimizer: AnyObject {
    /// The step size. May be changed between steps (a schedule); it is part of the exported
    /// state. Must be at least 0 and finite as a `Float`.
    ///
    /// Like every hyperparameter of the library's optimizers it is a `Double`; the update
    /// uses the nearest `Float` to it (the parameters' precision), rounded once per step.
    var learningRate: Double { get set }

    /// The number of ``step(_:)`` calls so far (restored by ``importState(_:for:)``).
    var stepCount: Int { get }

    /// Applies one update to every parameter's ``Parameter/value`` in place, from its
    /// ``Parameter/gradient``.
    ///
    /// Gradients are read, not cleared: call ``Layer/zeroGradients()`` before the next
    /// backward pass. State for a parameter name seen for the first time is created (zeros)
    /// on this call.
    /// - Parameter parameters: The parameters to update; names must be unique, and a name's
    ///   shape must not change between steps.
    func step(_ parameters: [Parameter])

    /// A copy of the complete state: kind, hyperparameters, step count and every slot tensor,
    /// named `"<parameter name>.<slot>"` (for example `conv1.weight.m`).
    ///
    /// The copy does not change when the optimizer steps on.
    /// - Returns: The state, suitable for ``importState(_:for:)`` on a fresh optimizer.
    func exportState() -> OptimizerState

    /// Replaces this optimizer's state (hyperparameters, step count, slots) with `state`.
    ///
    /// The state is validated completely before anything changes, so on failure the
    /// optimizer is left exactly as it was. Slot tensors are copied.
    /// - Parameters:
    ///   - state: A state from ``exportState()`` of an optimizer of the same kind.
    ///   - parameters: The parameters the state will be used with; every one of them must
    ///     have all its slots with its shape (unless the state's step count is 0, where
    ///     absent slots mean zeros), and the state must hold no other slots.
    /// - Throws: ``OptimizerStateError`` naming the kind, hyperparameter, step count,
    ///   parameter and slot, or both shapes, that do not fit.
    func importState(_ state: OptimizerState, for parameters: [Parameter]) throws
}
