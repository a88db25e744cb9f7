import Testing
import SpotTrain

@Suite struct CheckpointCorruptionTests {
    /// Decodes and returns the error, or nil if decoding succeeded.
    private func failure(_ bytes: [UInt8]) -> CheckpointError? {
        do {
            _ = try CheckpointReader.decode(bytes, path: "x.spt")
            return nil
        } catch let error as CheckpointError {
            return error
        } catch {
            Issue.record("non-CheckpointError \(error)")
            return nil
        }
    }

    private static let files: [CheckpointWriter.Options] = [.uncompressed, .fast]

    @Test(arguments: files)
    func everySingleByteFlipIsDetected(options: CheckpointWriter.Options) throws {
        let bytes = try CheckpointWriter(options: options).encode(CheckpointFixtures.small())
        #expect(bytes.count > 1000 && bytes.count < 3000)
        var undetected: [Int] = []
        for position in bytes.indices {
            var corrupt = bytes
            corrupt[position] ^= 0xFF
            if failure(corrupt) == nil { undetected.append(position) }
            // The cheap verification detects it too.
            if (try? CheckpointReader.verify(corrupt)) != nil { undetected.append(position) }
        }
        #expect(undetected.isEmpty, "flips at \(undetected) were not detected")
    }

    @Test(arguments: files)
    func everyTruncationIsDetected(options: CheckpointWriter.Options) throws {
        let bytes = try CheckpointWriter(options: options).encode(CheckpointFixtures.small())
        var codes: Set<CheckpointError.Code> = []
        for length in 0..<bytes.count {
            guard let error = failure(Array(bytes[0..<length])) else {
                Issue.record("truncation to \(length) bytes was not detected")
                continue
            }
            codes.insert(error.code)
        }
        #expect(codes == [.truncated])
    }

    @Test func zeroLengthFileIsTruncated() {
        #expect(failure([])?.code == .truncated)
        #expect(failure([])?.message.contains("empty") == true)
        #expect(failure([])?.path == "x.spt")
    }

    @Test func wrongMagicAndNewerMajorAreRejected() throws {
        var bytes = try CheckpointWriter().encode(CheckpointFixtures.small())
        var wrong = bytes
        wrong[3] = UInt8(ascii: "X")
        #expect(failure(wrong)?.code == .badMagic)
        #expect(failure(Array("PK\u{3}\u{4}".utf8))?.code == .badMagic)
        bytes[8] = 2
        CheckpointSurgery.reseal(&bytes)
        let error = failure(bytes)
        #expect(error?.code == .unsupportedVersion)
        #expect(error?.message.contains("2.\(CheckpointFormat.minorVersion)") == true)
    }

    @Test func trailingBytesAreRejected() throws {
        let bytes = try CheckpointWriter().encode(CheckpointFixtures.small())
        #expect(failure(bytes + [0])?.code == .truncated)
    }

    /// Offsets of record `index`'s header inside a file laid out by `CheckpointSurgery`.
    private func recordOffset(_ parts: CheckpointSurgery, _ index: Int) -> Int {
        parts.header.count + parts.metadata.count
            + parts.records[..<index].reduce(0) { $0 + $1.header.count + $1.payload.count }
    }

    @Test func resealedStructuralDamageIsRejectedWithTheRightCode() throws {
        let checkpoint = CheckpointFixtures.small()
        let original = try CheckpointWriter(options: .fast).encode(checkpoint)
        let parts = CheckpointSurgery(original)
        let zlibIndex = checkpoint.tensors.firstIndex { $0.name == "norm.scale" }!

        func edited(_ edit: (inout [UInt8]) -> Void) -> [UInt8] {
            var bytes = original
            edit(&bytes)
            CheckpointSurgery.reseal(&bytes)
            return bytes
        }
        let r0 = recordOffset(parts, 0)
        let rz = recordOffset(parts, zlibIndex)
        let cases: [(String, CheckpointError.Code, [UInt8])] = [
            ("stored length past the end", .malformed, edited { CheckpointSurgery.put(UInt64(1) << 40, &$0, at: r0 + 24) }),
            ("header length past the end", .malformed, edited { CheckpointSurgery.put(UInt32.max, &$0, at: 12) }),
            ("metadata length past the end", .malformed, edited { CheckpointSurgery.put(UInt64.max, &$0, at: 16) }),
            ("record header length past the end", .malformed, edited { CheckpointSurgery.put(UInt32.max, &$0, at: r0) }),
            ("absurd rank", .malformed, edited { $0[r0 + 7] = 200 }),
            ("overflowing dimension", .malformed, edited { CheckpointSurgery.put(UInt64.max, &$0, at: r0 + 32) }),
            ("overflowing element count", .malformed, edited {
                CheckpointSurgery.put(UInt64(1) << 40, &$0, at: r0 + 32)
                CheckpointSurgery.put(UInt64(1) << 40, &$0, at: r0 + 40)
            }),
            ("shape inconsistent with length", .malformed, edited { CheckpointSurgery.put(UInt64(5), &$0, at: r0 + 32) }),
            ("unknown dtype", .unsupportedEncoding, edited { $0[r0 + 4] = 9 }),
            ("unknown filter", .unsupportedEncoding, edited { $0[r0 + 5] = 9 }),
            ("unknown compression", .unsupportedEncoding, edited { $0[r0 + 6] = 9 }),
            ("record count mismatch", .malformed, edited { CheckpointSurgery.put(UInt32(99), &$0, at: 28) }),
            ("record CRC mismatch", .checksumMismatch, edited { $0[r0 + 12] ^= 1 }),
            ("raw payload damaged", .checksumMismatch, edited { $0[r0 + parts.records[0].header.count] ^= 0x40 }),
            ("zlib stream damaged", .decompressionFailed, edited { $0[rz + parts.records[zlibIndex].header.count + 2] ^= 0xFF }),
            ("decompressed size differs from header", .decompressionFailed, edited {
                // norm.scale [64] becomes [32]: consistent header, stream too long.
                CheckpointSurgery.put(UInt64(32), &$0, at: rz + 32)
                CheckpointSurgery.put(UInt64(128), &$0, at: rz + 16)
            }),
            ("zlib ratio beyond deflate's limit", .malformed, edited {
                CheckpointSurgery.put(UInt64(1) << 30, &$0, at: rz + 32)
                CheckpointSurgery.put(UInt64(1) << 32, &$0, at: rz + 16)
            }),
            ("stored differs from uncompressed without compression", .malformed, edited {
                CheckpointSurgery.put(UInt64(40), &$0, at: r0 + 24)
            }),
            ("duplicate tensor name", .malformed, {
                var p = parts
                p.records[1] = p.records[0]
                return p.sealed()
            }()),
            ("bytes after the last record", .malformed, edited {
                // Header and footer both declare one record fewer than the file holds.
                let count = UInt32(parts.records.count - 1)
                CheckpointSurgery.put(count, &$0, at: 28)
                CheckpointSurgery.put(count, &$0, at: $0.count - 16)
            }),
            ("metadata not JSON", .invalidMetadata, {
                var p = parts
                p.metadata = Array("not json".utf8)
                return p.sealed()
            }()),
            ("invalid UTF-8 name", .malformed, {
                var p = parts
                let nameStart = p.records[0].header.count - "dense.weight".utf8.count
                p.records[0].header[nameStart] = 0xC3
                p.records[0].header[nameStart + 1] = 0x28
                return p.sealed()
            }()),
        ]
        for (label, code, bytes) in cases {
            let error = failure(bytes)
            #expect(error?.code == code, "\(label): got \(String(describing: error))")
            #expect(throws: CheckpointError.self, "\(label): verify") { try CheckpointReader.verify(bytes) }
        }
    }

    @Test func inspectReportsChecksumStatusWithoutTrustingCorruptFiles() throws {
        let bytes = try CheckpointWriter(options: .fast).encode(CheckpointFixtures.small())
        let good = try CheckpointReader.inspect(bytes, path: "good.spt")
        #expect(good.isValid && good.tensors.allSatisfy { $0.checksumStatus == .valid })
        #expect(good.metadata?.globalStep == 7)
        var corrupt = bytes
        corrupt[bytes.count / 2] ^= 1
        let bad = try CheckpointReader.inspect(corrupt, path: "bad.spt")
        #expect(!bad.fileChecksumValid && !bad.isValid && bad.metadata == nil)
        #expect(bad.tensors.allSatisfy { $0.checksumStatus == .notChecked })
        #expect(bad.text.contains("MISMATCH"))
        // A resealed file with a damaged payload: the file CRC passes, the tensor's does not.
        var damaged = bytes
        let parts = CheckpointSurgery(bytes)
        damaged[parts.header.count + parts.metadata.count + parts.records[0].header.count] ^= 1
        CheckpointSurgery.reseal(&damaged)
        let report = try CheckpointReader.inspect(damaged)
        #expect(report.fileChecksumValid && !report.isValid)
        #expect(report.tensors[0].checksumStatus == .mismatch)
        #expect(report.tensors[1...].allSatisfy { $0.checksumStatus == .valid })
    }

    /// Random inputs and random mutations (deterministic) never crash and always throw a
    /// CheckpointError; resealed mutations either decode or throw a CheckpointError.
    @Test func fuzzedInputNeverCrashes() throws {
        let rng = RandomGenerator(seed: 0x5EED)
        let valid = try CheckpointWriter(options: .fast).encode(CheckpointFixtures.small())
        let validRaw = try CheckpointWriter(options: .uncompressed).encode(CheckpointFixtures.small(seed: 2))
        var decodedAfterReseal = 0
        var codes: [CheckpointError.Code: Int] = [:]
        for round in 0..<3000 {
            var bytes: [UInt8]
            switch round % 4 {
            case 0:
                bytes = (0..<rng.nextInt(below: 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                if round % 8 == 0 { bytes = Array("SPOTCKPT\u{1}\u{0}\u{0}\u{0}".utf8) + bytes }
            default:
                bytes = round % 2 == 0 ? valid : validRaw
                for _ in 0..<(1 + rng.nextInt(below: 4)) {
                    let position = rng.nextInt(below: bytes.count)
                    switch rng.nextInt(below: 4) {
                    case 0: bytes[position] = UInt8(truncatingIfNeeded: rng.next())
                    case 1: bytes[position] ^= UInt8(1) << UInt8(rng.nextInt(below: 8))
                    case 2: bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: position)
                    default: if bytes.count > 1 { bytes.remove(at: position) }
                    }
                }
            }
            let resealed = round % 4 == 3
            if resealed { CheckpointSurgery.reseal(&bytes) }
            do {
                _ = try CheckpointReader.decode(bytes)
                _ = try CheckpointReader.inspect(bytes)
                if resealed { decodedAfterReseal += 1 } else if bytes != valid && bytes != validRaw {
                    Issue.record("round \(round): corrupt input decoded")
                }
            } catch let error as CheckpointError {
                codes[error.code, default: 0] += 1
                _ = try? CheckpointReader.inspect(bytes)
            }
        }
        // The fuzzer reached past the checksums into the structural checks.
        #expect(codes[.checksumMismatch, default: 0] > 0)
        #expect(codes[.malformed, default: 0] + codes[.decompressionFailed, default: 0] + codes[.unsupportedEncoding, default: 0] > 0)
        #expect(codes[.badMagic, default: 0] > 0 && codes[.truncated, default: 0] > 0)
    }
}
