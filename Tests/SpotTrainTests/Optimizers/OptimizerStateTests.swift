import Testing
import SpotTrain

/// A small model's parameters with deterministic values and per-step gradients.
private struct Fixture {
    static let shapes: [(String, [Int])] = [("conv1.weight", [3, 3, 1, 4]), ("conv1.bias", [4]),
                                            ("dense.weight", [5, 3])]

    /// Fresh parameters (as a rebuilt model would have) with the given values.
    static func parameters(values: [[Float]]? = nil) -> [Parameter] {
        let rng = RandomGenerator(seed: 11)
        return shapes.enumerated().map { index, spec in
            let value = values.map { Tensor(shape: spec.1, values: $0[index]) }
                ?? Tensor.normal(spec.1, standardDeviation: 0.5, rng: rng)
            return Parameter(name: spec.0, value: value)
        }
    }

    /// Sets the gradients for step `step` (a pure function of the step and the name).
    static func setGradients(_ parameters: [Parameter], step: Int) {
        for (index, parameter) in parameters.enumerated() {
            let rng = RandomGenerator(seed: UInt64(1000 * step + index))
            parameter.gradient.assign(from: Tensor.normal(parameter.value.shape, rng: rng))
        }
    }

    static func run(_ optimizer: any Optimizer, _ parameters: [Parameter], steps: Range<Int>) {
        for step in steps {
            setGradients(parameters, step: step)
            optimizer.step(parameters)
        }
    }
}

/// Bit patterns, so that `-0.0`/`0.0` and NaNs are compared exactly.
private func bits(_ tensor: Tensor) -> [UInt32] { tensor.scalars.map(\.bitPattern) }

/// Whether two states are identical bit for bit.
private func identical(_ a: OptimizerState, _ b: OptimizerState) -> Bool {
    a.kind == b.kind && a.hyperparameters == b.hyperparameters && a.stepCount == b.stepCount
        && Set(a.slots.keys) == Set(b.slots.keys)
        && a.slots.allSatisfy { key, tensor in
            b.slots[key].map { $0.shape == tensor.shape && bits($0) == bits(tensor) } ?? false
        }
}

private func makeOptimizers() -> [(String, () -> any Optimizer)] {
    [
        ("adam", { Adam() }),
        ("adamw", { Adam(learningRate: 1e-2, beta1: 0.8, beta2: 0.99, epsilon: 1e-8, weightDecay: 0.05) }),
        ("sgd", { SGD(learningRate: 0.1) }),
        ("sgd-nesterov", { SGD(learningRate: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-3) }),
    ]
}

@Suite struct OptimizerStateTests {
    @Test(arguments: 0..<4)
    func exportImportContinuesBitIdentically(optimizerIndex: Int) throws {
        for split in [0, 3] {
            let make = makeOptimizers()[optimizerIndex].1
            // Never stopped.
            let straight = Fixture.parameters()
            let reference = make()
            Fixture.run(reference, straight, steps: 0..<6)

            // Stopped after `split` steps; the model and optimizer are rebuilt from the state.
            let before = Fixture.parameters()
            let first = make()
            Fixture.run(first, before, steps: 0..<split)
            let saved = first.exportState()
            let rebuilt = Fixture.parameters(values: before.map(\.value.scalars))
            let resumed: any Optimizer = reference is Adam ? Adam(learningRate: 0.5) : SGD(learningRate: 0.5)
            try resumed.importState(saved, for: rebuilt)
            #expect(resumed.stepCount == split)
            #expect(resumed.learningRate == reference.learningRate)
            Fixture.run(resumed, rebuilt, steps: split..<6)

            #expect(rebuilt.map { bits($0.value) } == straight.map { bits($0.value) })
            #expect(identical(resumed.exportState(), reference.exportState()))
        }
    }

    @Test func exportBeforeFirstStepHasNoSlotsAndRoundTrips() throws {
        let adam = Adam(learningRate: 2e-3)
        let state = adam.exportState()
        #expect(state.kind == "Adam")
        #expect(state.stepCount == 0)
        #expect(state.slots.isEmpty)
        #expect(state.hyperparameters["epsilon"] == 1e-7)

        let parameters = Fixture.parameters()
        let restored = Adam()
        try restored.importState(state, for: parameters)
        #expect(restored.learningRate == 2e-3)
        let restoredState = restored.exportState()
        #expect(restoredState.slots.keys.sorted() == parameters.flatMap { ["\($0.name).m", "\($0.name).v"] }.sorted())
        #expect(restoredState.slots.values.allSatisfy { $0.scalars.allSatisfy { $0 == 0 } })

        let control = Fixture.parameters()
        Fixture.run(restored, parameters, steps: 0..<2)
        Fixture.run(adam, control, steps: 0..<2)
        #expect(parameters.map { bits($0.value) } == control.map { bits($0.value) })
    }

    @Test func exportedStateIsACopy() {
        let parameters = Fixture.parameters()
        let adam = Adam()
        Fixture.run(adam, parameters, steps: 0..<1)
        let state = adam.exportState()
        let m = state.slots["conv1.weight.m"]!.scalars
        Fixture.run(adam, parameters, steps: 1..<2)
        #expect(state.slots["conv1.weight.m"]!.scalars == m)
        #expect(adam.exportState().slots["conv1.weight.m"]!.scalars != m)
    }

    @Test func importCopiesSlots() throws {
        let parameters = Fixture.parameters()
        let sgd = SGD(learningRate: 0.1, momentum: 0.9)
        Fixture.run(sgd, parameters, steps: 0..<1)
        let state = sgd.exportState()
        let restored = SGD(learningRate: 0.1)
        try restored.importState(state, for: parameters)
        state.slots["dense.weight.momentum"]!.fill(7)
        #expect(restored.exportState().slots["dense.weight.momentum"]!.scalars.allSatisfy { $0 != 7 })
    }

    @Test func stepDoesNotZeroGradients() {
        for (_, make) in makeOptimizers() {
            let parameters = Fixture.parameters()
            Fixture.setGradients(parameters, step: 0)
            let gradients = parameters.map(\.gradient.scalars)
            let values = parameters.map(\.value.scalars)
            make().step(parameters)
            #expect(parameters.map(\.gradient.scalars) == gradients)
            #expect(parameters.map(\.value.scalars) != values)
        }
    }

    // MARK: Rejected imports

    /// Imports `state` into an optimizer that has taken two steps, expects `code`, and checks
    /// that the optimizer's state is unchanged and its next step is unaffected.
    private func expectRejected(_ state: OptimizerState, into make: () -> any Optimizer,
                                parameters: [Parameter]? = nil,
                                code: OptimizerStateError.Code) throws -> OptimizerStateError {
        let target = make()
        let own = Fixture.parameters()
        Fixture.run(target, own, steps: 0..<2)
        let before = target.exportState()
        let error = try #require(throws: OptimizerStateError.self) {
            try target.importState(state, for: parameters ?? Fixture.parameters())
        }
        #expect(error.code == code, "\(error)")
        #expect(identical(target.exportState(), before))

        let control = make()
        let controlParameters = Fixture.parameters()
        Fixture.run(control, controlParameters, steps: 0..<3)
        Fixture.run(target, own, steps: 2..<3)
        #expect(own.map { bits($0.value) } == controlParameters.map { bits($0.value) })
        return error
    }

    private func savedAdamState() -> OptimizerState {
        let adam = Adam(learningRate: 0.01)
        Fixture.run(adam, Fixture.parameters(), steps: 0..<3)
        return adam.exportState()
    }

    @Test func importRejectsMissingSlotAndLeavesStateUnchanged() throws {
        var state = savedAdamState()
        state.slots["conv1.bias.v"] = nil
        let error = try expectRejected(state, into: { Adam() }, code: .missingSlot)
        #expect(error.parameter == "conv1.bias")
        #expect(error.key == "conv1.bias.v")
        #expect(error.message.contains("conv1.bias.v"))
    }

    @Test func importRejectsWrongShapeNamingBothShapes() throws {
        var state = savedAdamState()
        state.slots["dense.weight.m"] = Tensor.zeros([3, 5])
        let error = try expectRejected(state, into: { Adam() }, code: .slotShapeMismatch)
        #expect(error.parameter == "dense.weight")
        #expect(error.expectedShape == [5, 3])
        #expect(error.foundShape == [3, 5])
        #expect(error.message.contains("[5, 3]") && error.message.contains("[3, 5]"))
    }

    @Test func importRejectsWrongKind() throws {
        let state = savedAdamState()
        let error = try expectRejected(state, into: { SGD(learningRate: 0.1, momentum: 0.9) },
                                       code: .kindMismatch)
        #expect(error.message.contains("Adam") && error.message.contains("SGD"))
    }

    @Test func importRejectsSlotsOfAnotherModel() throws {
        var state = savedAdamState()
        state.slots["dense2.weight.m"] = Tensor.zeros([2])
        let error = try expectRejected(state, into: { Adam() }, code: .unexpectedSlot)
        #expect(error.key == "dense2.weight.m")
    }

    @Test func importRejectsBadHyperparametersAndStepCount() throws {
        var state = savedAdamState()
        state.hyperparameters["beta2"] = 1
        _ = try expectRejected(state, into: { Adam() }, code: .invalidHyperparameter)
        state = savedAdamState()
        state.hyperparameters["learningRate"] = .nan
        _ = try expectRejected(state, into: { Adam() }, code: .invalidHyperparameter)
        state = savedAdamState()
        state.hyperparameters["epsilon"] = nil
        _ = try expectRejected(state, into: { Adam() }, code: .missingHyperparameter)
        state = savedAdamState()
        state.stepCount = -1
        _ = try expectRejected(state, into: { Adam() }, code: .invalidStepCount)

        let sgd = SGD(learningRate: 0.1, momentum: 0.9)
        Fixture.run(sgd, Fixture.parameters(), steps: 0..<1)
        var sgdState = sgd.exportState()
        sgdState.hyperparameters["nesterov"] = 0.5
        _ = try expectRejected(sgdState, into: { SGD(learningRate: 0.1, momentum: 0.9) },
                               code: .invalidHyperparameter)
    }

    @Test func sgdWithoutMomentumHasNoSlots() throws {
        let sgd = SGD(learningRate: 0.1)
        let parameters = Fixture.parameters()
        Fixture.run(sgd, parameters, steps: 0..<2)
        let state = sgd.exportState()
        #expect(state.slots.isEmpty)
        #expect(state.stepCount == 2)
        let restored = SGD(learningRate: 1, momentum: 0.5)
        try restored.importState(state, for: parameters)
        #expect(restored.momentum == 0)
        #expect(restored.exportState().slots.isEmpty)
    }
}
