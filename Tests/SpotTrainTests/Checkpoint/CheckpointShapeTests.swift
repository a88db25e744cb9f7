import Foundation
import Testing
import SpotTrain

/// A shape's element count is bounded whatever the order of its dimensions: a zero
/// dimension makes a tensor empty but does not excuse a huge dimension next to it.
@Suite struct CheckpointShapeTests {
    @Test func recordShapeWithZeroAndHugeDimensionsIsMalformedInEitherOrder() throws {
        let checkpoint = CheckpointFixtures.small()
        let index = try #require(checkpoint.tensors.firstIndex { $0.name == "empty" })  // shape [0, 5]
        let bytes = try CheckpointWriter().encode(checkpoint)
        for dims: [UInt64] in [[0, 1 << 62], [1 << 62, 0], [0, UInt64(Int64.max)]] {
            var parts = CheckpointSurgery(bytes)
            for (d, value) in dims.enumerated() { CheckpointSurgery.put(value, &parts.records[index].header, at: 32 + 8 * d) }
            do {
                _ = try CheckpointReader.decode(parts.sealed())
                Issue.record("shape \(dims) was accepted")
            } catch let error as CheckpointError {
                #expect(error.code == .malformed, "\(dims): \(error)")
            }
        }
        // An empty tensor with a moderate other dimension is still fine.
        var parts = CheckpointSurgery(bytes)
        CheckpointSurgery.put(UInt64(1 << 20), &parts.records[index].header, at: 32 + 8)
        let read = try CheckpointReader.decode(parts.sealed())
        #expect(read.tensors[index].tensor.shape == [0, 1 << 20])
    }

    @Test func signatureShapeWithZeroAndHugeDimensionsIsInvalidInEitherOrder() throws {
        for shape in ["[0,1099511627776,1099511627776]", "[1099511627776,1099511627776,0]", "[0,281474976710657]"] {
            let json = #"{"library_version":"1","created_unix_ms":5,"global_step":0,"model_signature":{"parameters":[{"name":"a","shape":"#
                + shape + #","dtype":"float32"}]}}"#
            do {
                _ = try CheckpointMetadata.decode(json: Array(json.utf8))
                Issue.record("shape \(shape) was accepted")
            } catch let error as CheckpointError {
                #expect(error.code == .invalidMetadata, "\(shape): \(error)")
            }
        }
        let fine = #"{"library_version":"1","created_unix_ms":5,"global_step":0,"model_signature":{"parameters":[{"name":"a","shape":[0,281474976710656],"dtype":"float32"}]}}"#
        #expect(try CheckpointMetadata.decode(json: Array(fine.utf8)).modelSignature.parameters[0].shape == [0, 1 << 48])
    }
}
