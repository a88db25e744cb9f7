import Foundation
import Testing
import SpotTrain

/// The reference file written by `Scripts/optimizer_reference.py` (numpy, float64).
private struct ReferenceFile: Decodable {
    struct ParameterSpec: Decodable {
        let name: String
        let shape: [Int]
        let initial: [Double]
    }
    struct Step: Decodable {
        /// Parameter values after the step, in `parameters` order, flattened row-major.
        let values: [[Double]]
        /// Slot tensors after the step, flattened row-major.
        let slots: [String: [Double]]
    }
    struct Case: Decodable {
        let name: String
        let kind: String
        let hyperparameters: [String: Double]
        let steps: [Step]
    }
    let parameters: [ParameterSpec]
    /// `gradients[step][parameter]`, flattened row-major.
    let gradients: [[[Double]]]
    let cases: [Case]

    static func load() throws -> ReferenceFile {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/optimizer_reference.json")
        return try JSONDecoder().decode(ReferenceFile.self, from: Data(contentsOf: url))
    }
}

@Suite struct OptimizerReferenceTests {
    @Test func adamMatchesReference() throws {
        try checkCases(kind: Adam.kind)
    }

    @Test func sgdMatchesReference() throws {
        try checkCases(kind: SGD.kind)
    }

    /// Runs every reference case of `kind` on Float32 parameters and compares the values and
    /// slots after every step.
    private func checkCases(kind: String) throws {
        let reference = try ReferenceFile.load()
        let cases = reference.cases.filter { $0.kind == kind }
        #expect(cases.count >= 3, "too few \(kind) cases in the reference file")
        for testCase in cases {
            let h = testCase.hyperparameters
            let optimizer: any Optimizer
            if kind == Adam.kind {
                optimizer = Adam(learningRate: try #require(h["learningRate"]),
                                 beta1: try #require(h["beta1"]), beta2: try #require(h["beta2"]),
                                 epsilon: try #require(h["epsilon"]),
                                 weightDecay: try #require(h["weightDecay"]),
                                 biasCorrection: try #require(h["biasCorrection"]) == 1)
            } else {
                optimizer = SGD(learningRate: try #require(h["learningRate"]),
                                momentum: try #require(h["momentum"]),
                                nesterov: try #require(h["nesterov"]) == 1,
                                weightDecay: try #require(h["weightDecay"]))
            }
            let parameters = reference.parameters.map {
                Parameter(name: $0.name, value: Tensor(shape: $0.shape, values: $0.initial.map(Float.init)))
            }
            try #require(testCase.steps.count == reference.gradients.count)
            var mismatches: [String] = []
            for (stepIndex, step) in testCase.steps.enumerated() {
                for (parameter, gradient) in zip(parameters, reference.gradients[stepIndex]) {
                    parameter.gradient.assign(from: Tensor(shape: parameter.value.shape,
                                                           values: gradient.map(Float.init)))
                }
                optimizer.step(parameters)
                let state = optimizer.exportState()
                #expect(state.stepCount == stepIndex + 1)
                #expect(Set(state.slots.keys) == Set(step.slots.keys),
                        "\(testCase.name) step \(stepIndex + 1): slot names differ")
                for (parameter, expected) in zip(parameters, step.values) {
                    mismatches += compare(parameter.value.scalars, expected,
                                          "\(testCase.name) step \(stepIndex + 1) \(parameter.name)")
                }
                for (key, expected) in step.slots {
                    let actual = try #require(state.slots[key], "\(testCase.name): no slot \(key)")
                    mismatches += compare(actual.scalars, expected,
                                          "\(testCase.name) step \(stepIndex + 1) \(key)")
                }
            }
            #expect(mismatches.isEmpty, "\(mismatches.count) mismatches, first: \(mismatches.prefix(5))")
        }
    }

    /// Element-wise comparison with a relative tolerance of 1e-6 and an absolute floor of
    /// 1e-6 × the tensor's largest magnitude.
    ///
    /// Float32 rounds each operation to about 6e-8 of its *operands*, not its result: an
    /// element that ends near zero by cancellation (`m = β·m + (1 − β)·g` with `g` opposing
    /// `m`, or a parameter that started near zero) carries an absolute error set by the
    /// magnitudes involved, which are bounded by the tensor's largest element. A pure
    /// relative bound would fail on such elements for correct code; a pure absolute one would
    /// be meaningless across tensors of different scales (`v` is ~1e-6…4).
    private func compare(_ actual: [Float], _ expected: [Double], _ label: String) -> [String] {
        guard actual.count == expected.count else {
            return ["\(label): \(actual.count) elements, expected \(expected.count)"]
        }
        let scale = expected.map(abs).max() ?? 0
        var failures: [String] = []
        for (i, (a, e)) in zip(actual, expected).enumerated() {
            let tolerance = 1e-6 * max(abs(e), scale)
            if !(abs(Double(a) - e) <= tolerance) {
                failures.append("\(label)[\(i)]: \(a) vs \(e) (tolerance \(tolerance))")
            }
        }
        return failures
    }
}
