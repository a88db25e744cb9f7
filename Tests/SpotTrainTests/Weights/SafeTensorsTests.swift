import Foundation
import Testing
import SpotTrain

@Suite struct SafeTensorsTests {
    /// A small model with a conv, a flatten and a dense layer (names conv1, flatten1, dense1).
    static func model(seed: UInt64) -> Sequential {
        let rng = RandomGenerator(seed: seed)
        return Sequential([
            Conv2D(inputChannels: 1, outputChannels: 2, kernelSize: 3, activation: .relu, rng: rng),
            Flatten(),
            Dense(inputFeatures: 2 * 2 * 2, outputFeatures: 3, rng: rng),
        ], name: "tiny")
    }

    /// A file from a header (as written, no padding) and a data section.
    static func file(_ header: String, data: [UInt8]) -> [UInt8] {
        let h = Array(header.utf8)
        var bytes: [UInt8] = []
        withUnsafeBytes(of: UInt64(h.count).littleEndian) { bytes.append(contentsOf: $0) }
        return bytes + h + data
    }

    /// The error decoding `bytes` throws, or nil.
    static func decodeError(_ bytes: [UInt8]) -> WeightsError? {
        do {
            _ = try SafeTensors.decode(bytes, path: "hostile.safetensors")
            return nil
        } catch let error as WeightsError {
            return error
        } catch {
            Issue.record("not a WeightsError: \(error)")
            return nil
        }
    }

    @Test func roundTripIsBitExactAndKeepsNamesOrderAndLayouts() throws {
        let model = Self.model(seed: 3)
        // Values whose bits matter: negative zero, a subnormal, a NaN payload, infinity.
        let w = model.parameters[0].value
        w.buffer[0] = -0.0
        w.buffer[1] = Float(bitPattern: 0x0000_0001)
        w.buffer[2] = Float(bitPattern: 0x7FC0_1234)
        w.buffer[3] = .infinity
        let bytes = model.weights().encoded()
        #expect((bytes.count - 8) % 4 == 0)
        let header = Int(UInt64(littleEndian: bytes.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }))
        #expect(header % 8 == 0)
        let decoded = try SafeTensors.decode(bytes)
        #expect(decoded.tensors.map(\.name) == ["conv1.weight", "conv1.bias", "dense1.weight", "dense1.bias"])
        #expect(decoded.tensors.map(\.tensor.shape) == [[3, 3, 1, 2], [2], [8, 3], [3]])
        #expect(decoded.metadata["format"] == "spottrain")
        #expect(decoded.metadata["layout"] == SafeTensors.layoutDescription)
        #expect(decoded.metadata["model"] == "tiny")

        let other = Self.model(seed: 99)
        #expect(other.parameterFingerprintBytes() != model.parameterFingerprintBytes())
        try other.loadWeights(decoded)
        #expect(other.parameterFingerprintBytes() == model.parameterFingerprintBytes())
        #expect(other.weights().encoded() == bytes)
    }

    @Test func saveAndLoadWeightsThroughAFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("weights-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = Self.model(seed: 5)
        try model.saveWeights(to: dir + "/w.safetensors", metadata: ["note": "a \"quoted\"\nline ✓"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["w.safetensors"])
        let other = Self.model(seed: 6)
        try other.loadWeights(from: dir + "/w.safetensors")
        #expect(other.parameterFingerprintBytes() == model.parameterFingerprintBytes())
        #expect(try SafeTensors.read(atPath: dir + "/w.safetensors").metadata["note"] == "a \"quoted\"\nline ✓")
        #expect(throws: WeightsError.self) { try other.loadWeights(from: dir + "/missing.safetensors") }
        do {
            try other.loadWeights(from: dir)
            Issue.record("a directory loaded")
        } catch let error as WeightsError {
            #expect(error.code == .io)
            #expect(error.path == dir)
            #expect(error.underlying is CheckpointError)
        }
    }

    @Test func decodesAnIndependentlyWrittenFile() throws {
        // Tensors out of data order, whitespace, escapes, an empty tensor, a scalar, no metadata.
        let data: [UInt8] = [0, 0, 0x80, 0x3F] + [0, 0, 0, 0x40]
        let bytes = Self.file(#"{ "b\u00e9" : {"shape":[], "dtype":"F32", "data_offsets":[4,8]},"# +
                              #" "e": {"dtype":"F32","shape":[0,3],"data_offsets":[0,0]}, "a\/": {"dtype":"F32","shape":[1],"data_offsets":[0,4]} }  "#,
                              data: data)
        let decoded = try SafeTensors.decode(bytes)
        #expect(decoded.tensors.map(\.name).sorted() == ["a/", "bé", "e"])
        #expect(decoded.tensor(named: "a/")?.buffer[0] == 1)
        #expect(decoded.tensor(named: "bé")?.buffer[0] == 2)
        #expect(decoded.tensor(named: "bé")?.shape == [])
        #expect(decoded.metadata.isEmpty)
    }

    @Test func decoderRefusesTruncatedFiles() {
        let good = Self.model(seed: 1).weights().encoded()
        for length in [0, 7, 8, 20, good.count - 1] {
            let error = Self.decodeError(Array(good.prefix(length)))
            #expect(error != nil, "\(length) bytes decoded")
            #expect(error?.path == "hostile.safetensors")
            #expect(error.map { [.truncated, .malformedHeader, .badOffsets].contains($0.code) } == true, "\(length): \(String(describing: error))")
        }
    }

    @Test func decoderRefusesHugeHeaderLengthsWithoutAllocating() {
        for length in [UInt64.max, UInt64(Int.max), UInt64(SafeTensors.maximumHeaderBytes) + 1] {
            var bytes: [UInt8] = []
            withUnsafeBytes(of: length.littleEndian) { bytes.append(contentsOf: $0) }
            #expect(Self.decodeError(bytes + Array("{}".utf8))?.code == .headerTooLarge)
        }
        var bytes: [UInt8] = []
        withUnsafeBytes(of: UInt64(1000).littleEndian) { bytes.append(contentsOf: $0) }
        #expect(Self.decodeError(bytes + Array("{}".utf8))?.code == .truncated)
    }

    @Test func decoderRefusesBadOffsetsNamingTheTensor() {
        let four: [UInt8] = [0, 0, 0x80, 0x3F]
        let cases: [(String, [UInt8], String?)] = [
            (#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}}"#, four, "x"),               // past the end
            (#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, four, "x"),               // begin > end
            (#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, four, "x"),               // size != shape
            (#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"y":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
             four + four, nil),                                                                      // overlap, 4 bytes unused
            (#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, four + four, "x"),        // a hole before
            (#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, four + four, nil),        // unused tail
            (#"{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551615]}}"#, four, nil), // overflows Int
            (#"{"x":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}}"#, four, "x"), // shape overflows
        ]
        for (header, data, tensor) in cases {
            let error = Self.decodeError(Self.file(header, data: data))
            #expect(error != nil, "\(header) decoded")
            #expect(error.map { [.badOffsets, .malformedHeader].contains($0.code) } == true, "\(header): \(String(describing: error))")
            if let tensor { #expect(error?.tensor == tensor, "\(header): \(String(describing: error))") }
        }
        let overlap = Self.decodeError(Self.file(
            #"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
            data: four + four))
        #expect(overlap?.code == .badOffsets)
        #expect(overlap?.tensor == "y")
    }

    @Test func decoderRefusesOtherDataTypesNamingFileAndTensor() {
        for dtype in ["F16", "BF16", "F64", "I32", "U8", "BOOL", "f32"] {
            let error = Self.decodeError(Self.file(#"{"w":{"dtype":"\#(dtype)","shape":[1],"data_offsets":[0,4]}}"#,
                                                   data: [0, 0, 0, 0]))
            #expect(error?.code == .unsupportedDataType, "\(dtype)")
            #expect(error?.tensor == "w")
            #expect(error?.description.contains("hostile.safetensors") == true)
            #expect(error?.description.contains(dtype) == true)
        }
    }

    @Test func decoderRefusesMalformedHeaders() {
        let ok = #"{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#
        let headers = [
            #"{"w":\#(ok),"w":\#(ok)}"#,                                           // duplicate name
            #"{"__metadata__":{},"__metadata__":{}}"#,                              // duplicate metadata
            #"{"w":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, // duplicate field
            #"{"w":{"dtype":"F32","shape":[1]}}"#,                                  // no offsets
            #"{"w":{"shape":[1],"data_offsets":[0,4]}}"#,                            // no dtype
            #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}"#,        // unknown field
            #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}"#,            // three offsets
            #"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#,             // negative
            #"{"w":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}"#,            // not an integer
            #"{"w":{"dtype":"F32","shape":[01],"data_offsets":[0,4]}}"#,             // leading zero
            #"{"w":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,4]}}"#, // too large
            #"{"w":\#(ok)} x"#,                                                     // trailing bytes
            #"{"w":\#(ok),}"#,                                                      // trailing comma
            #"{"":\#(ok)}"#,                                                        // empty name
            #"{"w\u12":\#(ok)}"#,                                                   // short escape
            #"{"w\ud800":\#(ok)}"#,                                                 // lone surrogate
            #"{"__metadata__":{"k":1},"w":\#(ok)}"#,                                // metadata value not a string
            #"{"w":\#(ok)"#,                                                        // unterminated
            "{\"w\u{1}\":\(ok)}",                                                   // control character
            "[]",
            "",
        ]
        for header in headers {
            let error = Self.decodeError(Self.file(header, data: [0, 0, 0, 0]))
            #expect(error?.code == .malformedHeader, "\(header): \(String(describing: error))")
        }
        // Invalid UTF-8 in a name.
        var bytes = Self.file(#"{"w?":\#(ok)}"#, data: [0, 0, 0, 0])
        bytes[8 + 3] = 0xFF
        #expect(Self.decodeError(bytes)?.code == .malformedHeader)
        // Deep nesting is refused at the first unexpected byte, not recursed into.
        let deep = String(repeating: "[", count: 100_000)
        #expect(Self.decodeError(Self.file(#"{"w":{"shape":\#(deep)"#, data: []))?.code == .malformedHeader)
    }

    @Test func loadRefusesWrongShapeNamingTensorAndBothShapes() throws {
        let model = Self.model(seed: 1)
        let before = model.parameterFingerprintBytes()
        var weights = Self.model(seed: 2).weights()
        weights.tensors[2] = NamedTensor(name: "dense1.weight", tensor: Tensor.zeros([3, 8]))
        do {
            try model.loadWeights(weights, path: "w.safetensors")
            Issue.record("a transposed dense weight loaded")
        } catch let error as WeightsError {
            #expect(error.code == .shapeMismatch)
            #expect(error.tensor == "dense1.weight")
            #expect(error.description.contains("[3, 8]") && error.description.contains("[8, 3]"))
            #expect(error.description.contains("w.safetensors"))
        }
        #expect(model.parameterFingerprintBytes() == before)
    }

    @Test func loadRefusesMissingAndExtraTensorsLeavingTheModelUntouched() throws {
        let model = Self.model(seed: 1)
        let before = model.parameterFingerprintBytes()
        var missing = Self.model(seed: 2).weights()
        missing.tensors.removeLast()
        var extra = Self.model(seed: 2).weights()
        extra.tensors.append(NamedTensor(name: "optimizer.conv1.weight.m", tensor: Tensor.zeros([3, 3, 1, 2])))
        for (weights, code, name) in [(missing, WeightsError.Code.missingTensor, "dense1.bias"),
                                      (extra, .unexpectedTensor, "optimizer.conv1.weight.m")] {
            do {
                try model.loadWeights(weights)
                Issue.record("loaded despite \(code)")
            } catch let error as WeightsError {
                #expect(error.code == code)
                #expect(error.tensor == name)
            }
        }
        #expect(model.parameterFingerprintBytes() == before)
    }

    @Test func checkpointWeightsAreTheParametersInSignatureOrder() throws {
        let model = Self.model(seed: 4)
        let trainer = Trainer(model: model, optimizer: Adam(), rng: RandomGenerator(seed: 4))
        var checkpoint = TrainingState.capture(trainer: trainer, progress: TrainingProgress(), seed: 4,
                                               batchSize: 2, trainingCount: 10)
        // An optimizer slot, as after a step: not a weight.
        checkpoint.tensors.insert(NamedTensor(name: "optimizer.conv1.weight.m", tensor: Tensor.zeros([3, 3, 1, 2])), at: 0)
        let weights = try checkpoint.weights()
        #expect(weights.tensors.map(\.name) == model.parameters.map(\.name))
        #expect(weights.metadata["global_step"] == "0")
        let other = Self.model(seed: 8)
        try other.loadWeights(try SafeTensors.decode(weights.encoded()))
        #expect(other.parameterFingerprintBytes() == model.parameterFingerprintBytes())
    }
}
