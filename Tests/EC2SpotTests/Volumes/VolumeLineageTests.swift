import EC2Spot
import Foundation
import Testing

/// The pure decision of the live volume of a name, over every state a move can leave behind.
@Suite struct VolumeLineageTests {
    typealias Key = VolumeLineage.Key

    static func volume(_ id: String, az: String = "us-east-1a", _ tags: [(String, String)] = [],
                       created: TimeInterval = 0, attachedTo: String? = nil) -> Volume {
        Volume(volumeId: id, sizeGiB: 10, volumeType: "gp3", state: attachedTo == nil ? .available : .inUse,
               availabilityZone: az,
               attachments: attachedTo.map { [VolumeAttachment(volumeId: id, instanceId: $0, device: "/dev/xvdf",
                                                               state: .attached)] } ?? [],
               tags: [Tag(key: "spottrain:volume", value: "data")] + tags.map { Tag(key: $0.0, value: $0.1) },
               createTime: Date(timeIntervalSince1970: 1_700_000_000 + created))
    }

    /// Applies repairs the way ``PersistentVolume`` does (tags and deletions).
    static func applying(_ repairs: [VolumeLineage.Repair], to volumes: [Volume]) -> [Volume] {
        var result = volumes
        func setState(_ id: String, _ state: VolumeLineage.State) {
            guard let index = result.firstIndex(where: { $0.volumeId == id }) else { return }
            result[index].tags.removeAll { $0.key == Key.state }
            result[index].tags.append(Tag(key: Key.state, value: state.rawValue))
        }
        for repair in repairs {
            switch repair {
            case let .promote(id): setState(id, .live)
            case let .retire(id): setState(id, .retired)
            case let .delete(id): result.removeAll { $0.volumeId == id }
            }
        }
        return result
    }

    /// After the repairs, the same volume is live, and deciding again changes nothing.
    static func expectFixpoint(_ volumes: [Volume], sourceLocation: SourceLocation = #_sourceLocation) {
        let first = VolumeLineage.decide(volumes)
        let repaired = applying(first.repairs, to: volumes)
        let second = VolumeLineage.decide(repaired)
        #expect(second.live?.volumeId == first.live?.volumeId, sourceLocation: sourceLocation)
        #expect(second.repairs.isEmpty, "repairs not idempotent: \(second.repairs)", sourceLocation: sourceLocation)
        let gone: Set<VolumeState> = [.deleting, .deleted, .error]
        let liveTagged = repaired.filter { !gone.contains($0.state) && VolumeLineage.Marking(tags: $0.tags).state == .live }
        if first.live != nil {
            #expect(liveTagged.map(\.volumeId) == [first.live?.volumeId].compactMap { $0 },
                    "after repair exactly the elected volume is tagged live", sourceLocation: sourceLocation)
        }
    }

    @Test func aLegacyVolumeWithoutMarkingIsLiveGenerationZero() {
        let decision = VolumeLineage.decide([Self.volume("vol-1")])
        #expect(decision.live?.volumeId == "vol-1")
        #expect(decision.repairs.isEmpty)
        #expect(VolumeLineage.Marking(tags: Self.volume("vol-1").tags).generation == 0)
    }

    @Test func anUncommittedCopyIsDeletedAndTheSourceStaysLive() {
        let source = Self.volume("vol-s", [(Key.state, "live"), (Key.generation, "1"), (Key.attached, "i-1@t")])
        let copy = Self.volume("vol-c", az: "us-east-1b", [(Key.state, "pending"), (Key.generation, "2"),
                                                          (Key.movedFrom, "vol-s")], created: 100)
        let decision = VolumeLineage.decide([source, copy])
        #expect(decision.live?.volumeId == "vol-s")
        #expect(decision.repairs == [.delete(volumeId: "vol-c")])
        Self.expectFixpoint([source, copy])
    }

    @Test func aCommittedCopyIsPromotedAndTheSourceIgnored() {
        let source = Self.volume("vol-s", [(Key.state, "moved"), (Key.movedTo, "vol-c"), (Key.generation, "1")])
        let copy = Self.volume("vol-c", az: "us-east-1b", [(Key.state, "pending"), (Key.generation, "2"),
                                                          (Key.movedFrom, "vol-s")], created: 100)
        let decision = VolumeLineage.decide([source, copy])
        #expect(decision.live?.volumeId == "vol-c")
        #expect(decision.repairs == [.promote(volumeId: "vol-c")])
        Self.expectFixpoint([source, copy])
    }

    @Test func aMovedSourceWhoseCopyIsGoneIsLiveAgain() {
        let source = Self.volume("vol-s", [(Key.state, "moved"), (Key.movedTo, "vol-gone"), (Key.generation, "3")])
        var deleted = Self.volume("vol-gone", az: "us-east-1b", [(Key.state, "live"), (Key.generation, "4")])
        deleted.state = .deleting
        let decision = VolumeLineage.decide([source, deleted])
        #expect(decision.live?.volumeId == "vol-s")
        #expect(decision.repairs == [.promote(volumeId: "vol-s")])
        Self.expectFixpoint([source, deleted])
    }

    @Test func aLegacyMovedTagWithoutStateMeansMoved() {
        let old = Self.volume("vol-old", [(Key.movedTo, "vol-new")])
        let new = Self.volume("vol-new", az: "us-east-1b", [(Key.movedFrom, "vol-old")], created: 10)
        #expect(VolumeLineage.decide([old, new]).live?.volumeId == "vol-new")
    }

    @Test func aPendingCopyOfASourceMovedElsewhereIsDeleted() {
        let source = Self.volume("vol-s", [(Key.state, "moved"), (Key.movedTo, "vol-c2"), (Key.generation, "1")])
        let stray = Self.volume("vol-c1", az: "us-east-1b", [(Key.state, "pending"), (Key.generation, "2"),
                                                            (Key.movedFrom, "vol-s")], created: 10)
        let copy = Self.volume("vol-c2", az: "us-east-1c", [(Key.state, "live"), (Key.generation, "2"),
                                                           (Key.movedFrom, "vol-s"), (Key.holder, "i-2@t")], created: 20)
        let decision = VolumeLineage.decide([source, stray, copy])
        #expect(decision.live?.volumeId == "vol-c2")
        #expect(decision.repairs == [.delete(volumeId: "vol-c1")])
        Self.expectFixpoint([source, stray, copy])
    }

    @Test func racingCreatesElectTheOlderAndDeleteTheOther() {
        let first = Self.volume("vol-b", [(Key.state, "pending"), (Key.generation, "1")], created: 0)
        let second = Self.volume("vol-a", az: "us-east-1b", [(Key.state, "pending"), (Key.generation, "1")], created: 1)
        let decision = VolumeLineage.decide([second, first])
        #expect(decision.live?.volumeId == "vol-b")
        #expect(decision.repairs == [.promote(volumeId: "vol-b"), .delete(volumeId: "vol-a")])
        Self.expectFixpoint([first, second])
    }

    @Test func aDuplicateSomeoneHeldIsRetiredNotDeleted() {
        let older = Self.volume("vol-1", [(Key.state, "live")], created: 0)
        let used = Self.volume("vol-2", [(Key.state, "live"), (Key.attached, "i-9@t")], created: 5)
        let decision = VolumeLineage.decide([used, older])
        #expect(decision.live?.volumeId == "vol-1")
        #expect(decision.repairs == [.retire(volumeId: "vol-2")])
        Self.expectFixpoint([older, used])
    }

    @Test func theHigherGenerationWinsOverAnOlderVolume() {
        let stale = Self.volume("vol-1", [(Key.state, "live"), (Key.generation, "1"), (Key.holder, "i-1@t")], created: 0)
        let newer = Self.volume("vol-2", [(Key.state, "live"), (Key.generation, "2")], created: 50)
        #expect(VolumeLineage.decide([stale, newer]).live?.volumeId == "vol-2")
        Self.expectFixpoint([stale, newer])
    }

    @Test func retiredAndUnknownStatesAreNeverLive() {
        let retired = Self.volume("vol-1", [(Key.state, "retired")])
        let odd = Self.volume("vol-2", [(Key.state, "half-moved")])
        #expect(VolumeLineage.decide([retired, odd]).live == nil)
        #expect(VolumeLineage.decide([retired, odd]).repairs.isEmpty)
    }

    /// Every combination of source state, copy state and commit record that tags can hold:
    /// there is always exactly one live volume after the repairs, the repairs are idempotent,
    /// and a copy is elected over a present source only when the source records the commit.
    @Test func everyCombinationOfSourceAndCopyMarkingHasExactlyOneLiveVolume() {
        let states: [String?] = VolumeLineage.State.allCases.map(\.rawValue) + [nil, "garbage"]
        let movedTos: [String?] = ["vol-c", "vol-x", nil]
        var checked = 0
        for sourceState in states {
            for movedTo in movedTos {
                for copyState in states + ["absent"] {
                    for copyFrom in ["vol-s", nil] as [String?] {
                        for held in [false, true] {
                            var sourceTags: [(String, String)] = [(Key.generation, "1")]
                            if let sourceState { sourceTags.append((Key.state, sourceState)) }
                            if let movedTo { sourceTags.append((Key.movedTo, movedTo)) }
                            var volumes = [Self.volume("vol-s", sourceTags)]
                            if copyState != "absent" {
                                var copyTags: [(String, String)] = [(Key.generation, "2")]
                                if let copyState { copyTags.append((Key.state, copyState)) }
                                if let copyFrom { copyTags.append((Key.movedFrom, copyFrom)) }
                                if held { copyTags.append((Key.holder, "i-1@t")) }
                                volumes.append(Self.volume("vol-c", az: "us-east-1b", copyTags, created: 10))
                            }
                            Self.expectFixpoint(volumes)
                            let decision = VolumeLineage.decide(volumes)
                            let sourceMarking = VolumeLineage.Marking(tags: volumes[0].tags)
                            let copyIsPendingCopy = copyState == "pending" && copyFrom == "vol-s"
                            if decision.live?.volumeId == "vol-c" && copyIsPendingCopy {
                                #expect(sourceMarking.state == .moved && sourceMarking.movedTo == "vol-c",
                                        "an uncommitted copy was elected: \(volumes.map(\.tags))")
                            }
                            if volumes.contains(where: { VolumeLineage.Marking(tags: $0.tags).state == .live }) {
                                #expect(decision.live != nil, "no live volume for \(volumes.map(\.tags))")
                            }
                            // Data is never deleted: only never-held pending volumes go.
                            for case let .delete(id) in decision.repairs {
                                let marking = VolumeLineage.Marking(tags: volumes.first { $0.volumeId == id }?.tags ?? [])
                                #expect(marking.state == .pending && !marking.everHeld)
                            }
                            checked += 1
                        }
                    }
                }
            }
        }
        #expect(checked == 6 * 3 * 7 * 2 * 2)
    }

    /// The move writes its tags in this order; whatever prefix of it happened, the decision
    /// names the source until the commit and the copy from the commit on.
    @Test func everyPrefixOfTheMoveDecidesSourceBeforeCommitAndCopyAfter() {
        let source = Self.volume("vol-s", [(Key.state, "live"), (Key.generation, "4"), (Key.attached, "i-1@t")])
        let copy = Self.volume("vol-c", az: "us-east-1b", [(Key.state, "pending"), (Key.generation, "5"),
                                                          (Key.movedFrom, "vol-s")], created: 10)
        func tagged(_ volume: Volume, _ tags: [(String, String)]) -> Volume {
            var result = volume
            for (key, value) in tags {
                result.tags.removeAll { $0.key == key }
                result.tags.append(Tag(key: key, value: value))
            }
            return result
        }
        let committed = tagged(source, [(Key.state, "moved"), (Key.movedTo, "vol-c")])
        let promoted = tagged(copy, [(Key.state, "live"), (Key.holder, "i-2@t")])
        let steps: [([Volume], String)] = [
            ([source], "vol-s"),                       // before CreateVolume (snapshot only)
            ([source, copy], "vol-s"),                  // copy created, not committed
            ([committed, copy], "vol-c"),               // committed
            ([committed, promoted], "vol-c"),           // promoted
            ([committed, tagged(promoted, [(Key.attached, "i-2@u")])], "vol-c"),   // attached
        ]
        for (volumes, expected) in steps {
            #expect(VolumeLineage.decide(volumes).live?.volumeId == expected)
            Self.expectFixpoint(volumes)
        }
    }
}
