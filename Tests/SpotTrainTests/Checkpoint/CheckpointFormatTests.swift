import Foundation
import Testing
import SpotTrain

@Suite struct CheckpointFormatTests {
    static let allOptions: [CheckpointWriter.Options] = [
        .uncompressed, .fast, .small,
        CheckpointWriter.Options(compressionLevel: 1, byteShuffle: false),
        CheckpointWriter.Options(compressionLevel: 9, byteShuffle: true),
    ]

    @Test(arguments: allOptions)
    func roundTripIsBitExact(options: CheckpointWriter.Options) throws {
        let original = CheckpointFixtures.small()
        let bytes = try CheckpointWriter(options: options).encode(original)
        let decoded = try CheckpointReader.decode(bytes)
        let state = try #require(decoded.metadata.trainingState)
        #expect(state.rngState == UInt64.max)
        #expect(state.seed == 0x8000_0000_0000_0001)
        #expect(state.progress.best["ModelCheckpoint.val_loss"] == 0.1 + 0.2)
        #expect(state.progress.history[1]["loss"]!.isNaN)
        #expect(state.progress.history[1]["accuracy"] == .infinity)
        // NaN != NaN, so compare the rest of the metadata with the NaN replaced.
        var expected = original.metadata, actual = decoded.metadata
        expected.trainingState!.progress.history[1]["loss"] = 0
        actual.trainingState!.progress.history[1]["loss"] = 0
        #expect(actual == expected)
        #expect(decoded.tensors.map(\.name) == original.tensors.map(\.name))
        #expect(decoded.tensors.map(\.tensor.shape) == original.tensors.map(\.tensor.shape))
        #expect(CheckpointFixtures.bits(decoded) == CheckpointFixtures.bits(original))
        #expect(try CheckpointReader.verify(bytes).globalStep == 7)
    }

    @Test func encodingIsDeterministic() throws {
        let a = try CheckpointWriter(options: .fast).encode(CheckpointFixtures.small())
        let b = try CheckpointWriter(options: .fast).encode(CheckpointFixtures.small())
        #expect(a == b)
    }

    @Test func specialFloatBitPatternsSurvive() throws {
        let patterns: [UInt32] = [0x7FC0_0001, 0xFFC1_2345, 0x7F80_0000, 0xFF80_0000, 0x8000_0000, 0x0000_0001, 0x7F7F_FFFF]
        let t = Tensor(shape: [patterns.count], values: patterns.map(Float.init(bitPattern:)))
        var checkpoint = CheckpointFixtures.small()
        checkpoint.tensors = [NamedTensor(name: "special", tensor: t)]
        for options in Self.allOptions {
            let decoded = try CheckpointReader.decode(try CheckpointWriter(options: options).encode(checkpoint))
            #expect(decoded.tensor(named: "special")!.scalars.map(\.bitPattern) == patterns)
        }
    }

    @Test func layoutMatchesTheSpecification() throws {
        let checkpoint = CheckpointFixtures.small()
        let bytes = try CheckpointWriter(options: .fast).encode(checkpoint)
        #expect(Array(bytes[0..<8]) == Array("SPOTCKPT".utf8))
        #expect(Array(bytes.suffix(8)) == Array("CKPTDONE".utf8))
        #expect(bytes[8] == 1 && bytes[9] == 0 && bytes[10] == 1 && bytes[11] == 0)
        let parts = CheckpointSurgery(bytes)
        #expect(parts.records.count == checkpoint.tensors.count)
        #expect(parts.sealed() == bytes)
        let json = try JSONSerialization.jsonObject(with: Data(parts.metadata)) as! [String: Any]
        let state = try #require(json["training_state"] as? [String: Any])
        #expect(state["rng_state"] as? String == "18446744073709551615")
        #expect(state["seed"] as? String == "9223372036854775809")
        #expect(json["rng_state"] == nil && json["extra"] == nil && json["epoch"] == nil)
        #expect(json["global_step"] as? Int == 7)
        // The compressible tensor is stored shuffled and deflated; random ones stay raw.
        let report = try CheckpointReader.inspect(bytes)
        let scale = report.tensors.first { $0.name == "norm.scale" }!
        #expect(scale.compression == .zlib && scale.filter == .byteShuffle && scale.compressionRatio > 5)
        let weight = report.tensors.first { $0.name == "dense.weight" }!
        #expect(weight.compression == .none && weight.storedLength == 48)
        #expect(report.isValid)
        #expect(report.text.contains("norm.scale float32[64]"))
    }

    @Test func newerMinorVersionWithUnknownFieldsIsRead() throws {
        let checkpoint = CheckpointFixtures.small()
        var parts = CheckpointSurgery(try CheckpointWriter(options: .fast).encode(checkpoint))
        // Minor 7, a header 8 bytes longer, each record header 5 bytes longer, an unknown JSON key.
        CheckpointSurgery.put(UInt16(7), &parts.header, at: 10)
        CheckpointSurgery.put(UInt32(40), &parts.header, at: 12)
        parts.header += [1, 2, 3, 4, 5, 6, 7, 8]
        parts.metadata = Array("{\"future_field\":{\"x\":[1,2]},".utf8) + parts.metadata.dropFirst()
        for i in parts.records.indices {
            let length = parts.records[i].header.count + 5
            CheckpointSurgery.put(UInt32(length), &parts.records[i].header, at: 0)
            parts.records[i].header += [9, 9, 9, 9, 9]
        }
        let decoded = try CheckpointReader.decode(parts.sealed())
        #expect(decoded.metadata.globalStep == checkpoint.metadata.globalStep)
        #expect(CheckpointFixtures.bits(decoded) == CheckpointFixtures.bits(checkpoint))
        #expect(try CheckpointReader.inspect(parts.sealed()).minorVersion == 7)
    }

    @Test func byteShuffleRoundTripsAndGroupsBytes() {
        let source: [UInt8] = Array(0..<11)
        var shuffled = [UInt8](repeating: 0, count: 11)
        var restored = [UInt8](repeating: 0, count: 11)
        source.withUnsafeBytes { s in shuffled.withUnsafeMutableBytes { ByteShuffle.shuffle(s, into: $0, elementSize: 4) } }
        #expect(shuffled == [0, 4, 1, 5, 2, 6, 3, 7, 8, 9, 10])
        shuffled.withUnsafeBytes { s in restored.withUnsafeMutableBytes { ByteShuffle.unshuffle(s, into: $0, elementSize: 4) } }
        #expect(restored == source)
    }

    @Test func metadataJSONKeepsUInt64ExtremesAndIgnoresUnknownKeys() throws {
        for value: UInt64 in [0, 1, UInt64(1) << 53 + 1, UInt64.max - 1, UInt64.max] {
            var m = CheckpointFixtures.small().metadata
            m.trainingState!.rngState = value
            m.trainingState!.seed = ~value
            let back = try #require(try CheckpointMetadata.decode(json: m.jsonBytes()).trainingState)
            #expect(back.rngState == value && back.seed == ~value)
        }
        let minimal = """
        {"library_version":"9.9","created_unix_ms":5,"global_step":10,
         "model_signature":{"parameters":[]},"new_thing":true}
        """
        let m = try CheckpointMetadata.decode(json: Array(minimal.utf8))
        #expect(m.globalStep == 10 && m.trainingState == nil)
        // A 1.0 file without a training state (no extra["run.batch_size"]) holds tensors only.
        let legacy = """
        {"library_version":"9.9","created_unix_ms":5,"epoch":1,"step_in_epoch":0,"global_step":10,
         "rng_state":"42","shuffle_seed":"7","model_signature":{"parameters":[]},"extra":{"command":"x"}}
        """
        #expect(try CheckpointMetadata.decode(json: Array(legacy.utf8)).trainingState == nil)
    }

    @Test func metadataRejectsBadUInt64AndMissingKeys() {
        let bad = [
            #"{"library_version":"1","created_unix_ms":5,"epoch":1,"step_in_epoch":0,"global_step":10,"extra":{"progress.epoch_loss_sum":"0","progress.epoch_correct":"0","progress.epoch_seen":"0","progress.training_seconds":"0","progress.training_samples":"0","run.batch_size":"1","run.training_count":"10"},"optimizer":{"name":"Adam","hyperparameters":{},"step":0},"rng_state":42,"shuffle_seed":"7","model_signature":{"parameters":[]}}"#,
            #"{"library_version":"1","created_unix_ms":5,"epoch":1,"step_in_epoch":0,"global_step":10,"extra":{"progress.epoch_loss_sum":"0","progress.epoch_correct":"0","progress.epoch_seen":"0","progress.training_seconds":"0","progress.training_samples":"0","run.batch_size":"1","run.training_count":"10"},"optimizer":{"name":"Adam","hyperparameters":{},"step":0},"rng_state":"-1","shuffle_seed":"7","model_signature":{"parameters":[]}}"#,
            #"{"library_version":"1","created_unix_ms":5,"epoch":1,"step_in_epoch":0,"global_step":10,"extra":{"progress.epoch_loss_sum":"0","progress.epoch_correct":"0","progress.epoch_seen":"0","progress.training_seconds":"0","progress.training_samples":"0","run.batch_size":"1","run.training_count":"10"},"optimizer":{"name":"Adam","hyperparameters":{},"step":0},"rng_state":"18446744073709551616","shuffle_seed":"7","model_signature":{"parameters":[]}}"#,
            #"{"library_version":"1","epoch":1,"step_in_epoch":0,"global_step":10,"rng_state":"1","shuffle_seed":"7","model_signature":{"parameters":[]}}"#,
            #"{"library_version":"1","created_unix_ms":5,"epoch":1,"step_in_epoch":0,"global_step":10,"rng_state":"1","shuffle_seed":"7","model_signature":{"parameters":[{"name":"a","shape":[1],"dtype":"float32"},{"name":"a","shape":[1],"dtype":"float32"}]}}"#,
            #"{"library_version":"1","created_unix_ms":5,"epoch":1,"step_in_epoch":0,"global_step":10,"rng_state":"1","shuffle_seed":"7","model_signature":{"parameters":[{"name":"a","shape":[1],"dtype":"float64"}]}}"#,
            "[1,2]", "", "{",
        ]
        for text in bad {
            #expect(throws: CheckpointError.self) { try CheckpointMetadata.decode(json: Array(text.utf8)) }
            do {
                _ = try CheckpointMetadata.decode(json: Array(text.utf8))
            } catch let error as CheckpointError {
                #expect(error.code == .invalidMetadata)
            } catch {
                Issue.record("unexpected error type \(error)")
            }
        }
    }
}

@Suite struct ModelSignatureTests {
    let stored = ModelSignature([(name: "conv1.weight", shape: [3, 3, 1, 32]), (name: "conv1.bias", shape: [32]),
                                 (name: "dense.weight", shape: [9216, 128])])

    private func mismatch(_ expected: [(name: String, shape: [Int])]) -> String? {
        do {
            try stored.verify(against: ModelSignature(expected))
            return nil
        } catch let error as CheckpointError {
            #expect(error.code == .signatureMismatch)
            return error.message
        } catch {
            return "unexpected \(error)"
        }
    }

    @Test func matchingSignatureInAnyOrderPasses() throws {
        #expect(mismatch([(name: "dense.weight", shape: [9216, 128]), (name: "conv1.weight", shape: [3, 3, 1, 32]),
                          (name: "conv1.bias", shape: [32])]) == nil)
    }

    @Test func signatureMismatchNamesTheFirstMismatchingParameter() {
        let shape = mismatch([(name: "conv1.weight", shape: [3, 3, 1, 32]), (name: "conv1.bias", shape: [16]),
                              (name: "dense.weight", shape: [1, 1])])
        #expect(shape?.contains("'conv1.bias'") == true && shape?.contains("[32]") == true && shape?.contains("[16]") == true)
        let missing = mismatch([(name: "conv1.weight", shape: [3, 3, 1, 32]), (name: "conv0.weight", shape: [1]),
                                (name: "conv1.bias", shape: [32]), (name: "dense.weight", shape: [9216, 128])])
        #expect(missing?.contains("'conv0.weight'") == true && missing?.contains("missing from the checkpoint") == true)
        let extra = mismatch([(name: "conv1.weight", shape: [3, 3, 1, 32]), (name: "conv1.bias", shape: [32])])
        #expect(extra?.contains("'dense.weight'") == true && extra?.contains("not in the model") == true)
    }

    @Test func metadataVerifySignatureUsesTheStoredSignature() throws {
        let metadata = CheckpointFixtures.small().metadata
        try metadata.verifySignature(against: [(name: "dense.bias", shape: [4]), (name: "dense.weight", shape: [3, 4]),
                                               (name: "norm.scale", shape: [64])])
        #expect(throws: CheckpointError.self) {
            try metadata.verifySignature(against: [(name: "dense.weight", shape: [4, 3]), (name: "dense.bias", shape: [4]),
                                                   (name: "norm.scale", shape: [64])])
        }
    }
}
