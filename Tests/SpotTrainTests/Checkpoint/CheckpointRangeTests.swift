import Foundation
import Testing
import SpotTrain

/// Numbers read from a checkpoint are checked before use: every integer field of a CRC-valid
/// checkpoint set to -1, 0, 2^63-1 and a huge value is either within its documented range
/// (and then used without a trap) or reported by verification, and resume falls back.
@Suite struct CheckpointRangeTests {
    static let values = ["-1", "0", "9223372036854775807", "340282366920938463463374607431768211456"]

    /// A metadata field: how to set it to a placeholder in the decoded JSON object.
    struct Field: CustomStringConvertible, Sendable {
        var description: String
        var set: @Sendable (inout [String: Any], Any) -> Void
    }

    static let metadataFields: [Field] = {
        var fields: [Field] = ["global_step", "created_unix_ms"].map { key in
            Field(description: key) { m, v in m[key] = v }
        }
        for key in ["epoch", "step_in_epoch", "global_step", "epoch_seen", "epoch_correct", "training_samples",
                    "batch_size", "training_count"] {
            fields.append(Field(description: "training_state." + key) { m, v in
                var s = m["training_state"] as! [String: Any]
                s[key] = v
                m["training_state"] = s
            })
        }
        fields.append(Field(description: "training_state.optimizer.step") { m, v in
            var s = m["training_state"] as! [String: Any]
            var o = s["optimizer"] as! [String: Any]
            o["step"] = v
            s["optimizer"] = o
            m["training_state"] = s
        })
        fields.append(Field(description: "model_signature.parameters[0].shape[0]") { m, v in
            var s = m["model_signature"] as! [String: Any]
            var ps = s["parameters"] as! [[String: Any]]
            var shape = ps[0]["shape"] as! [Any]
            shape[0] = v
            ps[0]["shape"] = shape
            s["parameters"] = ps
            m["model_signature"] = s
        })
        return fields
    }()

    /// The (field, value) pairs inside the documented ranges: any creation time, an
    /// optimizer step of 0 (≤ global step), no correct predictions yet.
    static let accepted: Set<String> = [
        "created_unix_ms=-1", "created_unix_ms=0", "created_unix_ms=9223372036854775807",
        "training_state.optimizer.step=0", "training_state.epoch_correct=0",
    ]

    static func withMetadataValue(_ base: [UInt8], _ field: Field, _ literal: String) throws -> [UInt8] {
        var parts = CheckpointSurgery(base)
        var object = try #require(try JSONSerialization.jsonObject(with: Data(parts.metadata)) as? [String: Any])
        let placeholder = 777_000_777_000_777
        field.set(&object, placeholder)
        let json = String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
        #expect(json.contains("\(placeholder)"))
        parts.metadata = Array(json.replacingOccurrences(of: "\(placeholder)", with: literal).utf8)
        return parts.sealed()
    }

    /// Writes `bytes` as step 6 next to the good step-4 file, then checks verify and resume.
    static func check(_ bytes: [UInt8], label: String, expectValid: Bool, good: [UInt8]) throws {
        let dir = try CheckpointFixtures.temporaryDirectory()
        defer { CheckpointFixtures.remove(dir) }
        let directory = CheckpointDirectory(path: dir)
        try CheckpointFixtures.write(good, to: directory.filePath(forGlobalStep: 4))
        try CheckpointFixtures.write(bytes, to: directory.filePath(forGlobalStep: 6))
        _ = try? CheckpointReader.inspect(bytes)
        let results = try directory.verifyAll()
        #expect(results.map(\.isValid) == [true, expectValid], "\(label): \(results.map { $0.error?.description ?? "ok" })")
        let trainer = ModelCheckpointTests.makeTrainer(seed: 99)
        let point = try #require(try Resume.latest(from: directory, into: trainer, batchSize: 32, trainingCount: 100,
                                                   logger: .silent), "\(label)")
        #expect(point.file.globalStep == (expectValid ? 6 : 4), "\(label)")
        // The restored position trains on without a trap.
        let context = try trainer.fit(train: makeToyDataset(count: 100, seed: 5), epochs: 3, batchSize: 32,
                                      seed: point.seed, maxSteps: point.progress.globalStep + 1,
                                      resumeFrom: point.progress)
        #expect(context.globalStep == point.progress.globalStep + 1, "\(label)")
    }

    @Test func everyMetadataIntegerOutOfRangeIsReportedAndResumeFallsBack() throws {
        let (dir, _) = try CheckpointDirectoryRuleTests.trainedDirectory()
        defer { CheckpointFixtures.remove(dir) }
        let base = try CheckpointFixtures.read(dir + "/" + CheckpointDirectory.fileName(forGlobalStep: 6))
        let good = try CheckpointFixtures.read(dir + "/" + CheckpointDirectory.fileName(forGlobalStep: 4))
        for field in Self.metadataFields {
            for value in Self.values {
                let label = "\(field)=\(value)"
                try Self.check(try Self.withMetadataValue(base, field, value), label: label,
                               expectValid: Self.accepted.contains(label), good: good)
            }
        }
    }

    @Test func everyHeaderAndRecordIntegerOutOfRangeIsReportedAndResumeFallsBack() throws {
        let (dir, _) = try CheckpointDirectoryRuleTests.trainedDirectory()
        defer { CheckpointFixtures.remove(dir) }
        let base = try CheckpointFixtures.read(dir + "/" + CheckpointDirectory.fileName(forGlobalStep: 6))
        let good = try CheckpointFixtures.read(dir + "/" + CheckpointDirectory.fileName(forGlobalStep: 4))
        func u(_ o: Int, _ n: Int) -> Int { (0..<n).reduce(0) { $0 | Int(base[o + $1]) << (8 * $1) } }
        let r0 = u(12, 4) + u(16, 8)
        let size = base.count
        // (name, offset, width in bytes)
        let fields: [(String, Int, Int)] = [
            ("header length", 12, 4), ("metadata length", 16, 8), ("header record count", 28, 4),
            ("footer data end", size - 24, 8), ("footer record count", size - 16, 4),
            ("record header length", r0, 4), ("record rank", r0 + 7, 1), ("record name length", r0 + 8, 4),
            ("record uncompressed length", r0 + 16, 8), ("record stored length", r0 + 24, 8),
            ("record dimension 0", r0 + 32, 8),
        ]
        for (name, offset, width) in fields {
            let maximum = width == 8 ? UInt64(Int64.max) : (UInt64(1) << UInt64(8 * width - 1)) - 1
            let patterns: [(String, UInt64)] = [
                ("-1", width == 8 ? UInt64.max : (UInt64(1) << UInt64(8 * width)) - 1), ("0", 0),
                ("max", maximum), ("huge", width == 8 ? UInt64(1) << 40 : width == 4 ? 0x1000_0000 : 200),
            ]
            for (valueName, value) in patterns {
                var bytes = base
                for i in 0..<width { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> UInt64(8 * i)) }
                guard bytes != base else { continue }
                CheckpointSurgery.reseal(&bytes)
                try Self.check(bytes, label: "\(name)=\(valueName)", expectValid: false, good: good)
            }
        }
    }

    @Test func metadataRangesAreCheckedOnDecode() throws {
        var checkpoint = CheckpointFixtures.small()
        checkpoint.metadata.globalStep = -1
        let bytes = try CheckpointWriter(options: .fast).encode(checkpoint)
        #expect(throws: CheckpointError.self) { try CheckpointReader.verify(bytes) }
        checkpoint.metadata.globalStep = CheckpointMetadata.maximumCount + 1
        let tooBig = try CheckpointWriter(options: .fast).encode(checkpoint)
        do {
            try CheckpointReader.verify(tooBig)
            Issue.record("global step beyond the limit verified")
        } catch let error as CheckpointError {
            #expect(error.code == .invalidMetadata)
            #expect(error.message.contains("global_step"))
        }
    }
}
