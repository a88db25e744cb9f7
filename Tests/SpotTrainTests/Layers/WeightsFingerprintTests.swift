import Testing
@testable import SpotTrain

/// `Layer.weightsSHA256()` is the `weights_sha256` every run summary, job status and snippet
/// prints, so it is pinned to an independent computation.
@Suite struct WeightsFingerprintTests {
    /// A Dense 1 → 1 with weight 1.0 and bias -2.5: its fingerprint bytes are the two
    /// little-endian Float32s, whose SHA-256 Python computes as
    /// `hashlib.sha256(struct.pack('<2f', 1.0, -2.5)).hexdigest()`.
    @Test func weightsSHA256IsTheSHA256OfTheLittleEndianParameters() {
        let layer = Dense(inputFeatures: 1, outputFeatures: 1, rng: RandomGenerator(seed: 1))
        layer.weight.value.buffer[0] = 1.0
        layer.bias.value.buffer[0] = -2.5
        #expect(layer.parameterFingerprintBytes() == [0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc0])
        #expect(layer.weightsSHA256() == "48943f7a0ea247f8e3c9386d0c5822fe181d323a9289980426638cc4e72a43e1")
    }

    /// One changed bit changes the fingerprint.
    @Test func oneBitChangesTheFingerprint() {
        let layer = Dense(inputFeatures: 3, outputFeatures: 2, rng: RandomGenerator(seed: 7))
        let before = layer.weightsSHA256()
        layer.bias.value.buffer[1] = Float(bitPattern: layer.bias.value.buffer[1].bitPattern ^ 1)
        #expect(layer.weightsSHA256() != before)
        #expect(before.count == 64 && before.allSatisfy { "0123456789abcdef".contains($0) })
    }
}
