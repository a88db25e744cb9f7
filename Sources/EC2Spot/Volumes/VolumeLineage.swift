import Foundation

/// The marking a SpotTrain volume carries in its tags, and the pure decision of which volume
/// of a name is the live one.
///
/// A move from zone to zone is a sequence of AWS calls, each of which can be the last one
/// before the process dies. The tags make every intermediate state recognisable:
///
/// | tag | meaning |
/// |---|---|
/// | `spottrain:generation` | `0, 1, 2, …`: a copy made by a move is one higher than its source |
/// | `spottrain:state` | `live`, `pending` (a copy not yet committed, or a fresh create), `moved`, `retired` |
/// | `spottrain:moved-to` | on a moved source: the copy's id (the commit record) |
/// | `spottrain:moved-from` | on a copy: its source's id |
/// | `spottrain:holder` | the instance that last claimed the volume (`i-…@<time>`) |
/// | `spottrain:attached` | written just before each attach; a snapshot is fresh only if it recorded the same value |
///
/// A move is committed by one CreateTags on the source (`state=moved`, `moved-to=<copy>`);
/// before that the copy is `pending` and is deleted by recovery, after it the copy is promoted
/// to `live`. ``decide(_:)`` turns any set of volumes of one name into exactly one live volume
/// plus the repairs that make the tags say so.
public enum VolumeLineage {
    /// Tag keys of the marking.
    public enum Key {
        /// The generation number.
        public static let generation = "spottrain:generation"
        /// The lifecycle state (``VolumeLineage/State``).
        public static let state = "spottrain:state"
        /// On a moved source: the copy's id.
        public static let movedTo = "spottrain:moved-to"
        /// On a copy: the source's id.
        public static let movedFrom = "spottrain:moved-from"
        /// The instance that last claimed the volume.
        public static let holder = "spottrain:holder"
        /// The attach token, rewritten before every attach.
        public static let attached = "spottrain:attached"
        /// On a snapshot: the volume it was taken for.
        public static let snapshotSource = "spottrain:source-volume"
        /// On a snapshot: the source's attach token when the snapshot was started.
        public static let snapshotSourceAttached = "spottrain:source-attached"
    }

    /// A volume's lifecycle state.
    public enum State: String, Sendable, Equatable, CaseIterable {
        /// The one volume of its name that may be attached and trained on.
        case live
        /// A copy whose move is not committed yet, or a fresh volume not yet elected.
        case pending
        /// A source whose copy is committed (see ``Key/movedTo``).
        case moved
        /// A duplicate kept for a person to inspect; never attached again.
        case retired
    }

    /// The marking of one volume as read from its tags.
    public struct Marking: Sendable, Equatable {
        /// The generation (missing tag: 0, a volume from before generations).
        public var generation: Int
        /// The state (missing tag: `moved` if ``movedTo`` is set, else `live`).
        public var state: State
        /// The copy this volume was moved to.
        public var movedTo: String?
        /// The volume this one was copied from.
        public var movedFrom: String?
        /// Whether anyone ever claimed or attached the volume.
        public var everHeld: Bool

        /// Reads the marking from tags. Unknown or malformed values fall back to the reading
        /// that can never make a second live volume: an unparseable state counts as `retired`.
        /// - Parameter tags: The volume's tags.
        public init(tags: [Tag]) {
            generation = tags.value(for: Key.generation).flatMap { Int($0) }.map { max(0, $0) } ?? 0
            movedTo = tags.value(for: Key.movedTo).flatMap { $0.isEmpty ? nil : $0 }
            movedFrom = tags.value(for: Key.movedFrom).flatMap { $0.isEmpty ? nil : $0 }
            if let text = tags.value(for: Key.state) {
                state = State(rawValue: text) ?? .retired
            } else {
                state = movedTo == nil ? .live : .moved
            }
            everHeld = tags.value(for: Key.holder) != nil || tags.value(for: Key.attached) != nil
        }
    }

    /// One change of tags or volumes that makes the marking consistent again.
    public enum Repair: Sendable, Equatable {
        /// Tag the volume `state=live` (a committed copy, a reverted source, an elected create).
        case promote(volumeId: String)
        /// Delete a `pending` copy or create that no one ever claimed or attached.
        case delete(volumeId: String)
        /// Tag a duplicate `state=retired`: it may hold data, so a person decides.
        case retire(volumeId: String)
    }

    /// The outcome of ``decide(_:)``.
    public struct Decision: Sendable, Equatable {
        /// The live volume of the name, if any.
        public var live: Volume?
        /// Repairs, promotions first.
        public var repairs: [Repair]
    }

    /// Decides the one live volume among all volumes of one name and the repairs that finish
    /// or undo a half move.
    ///
    /// 1. A `pending` copy whose source says `moved-to` = the copy (or whose source is gone)
    ///    is committed: promote it. A `pending` copy whose source is still live, or moved to
    ///    another copy, is an uncommitted move: delete it.
    /// 2. A `moved` source whose copy is gone is an undone move: promote it back.
    /// 3. A `pending` volume without source is a fresh create: a candidate.
    /// 4. Among candidates (live, committed, reverted, fresh), the highest generation wins,
    ///    then the oldest (create time, then id). The others are deleted if they are `pending`
    ///    and no one ever held them (nothing can have been written to them), else retired.
    /// - Parameter volumes: Every volume of the name (deleted, deleting and failed ones are
    ///   ignored).
    /// - Returns: The live volume and the repairs.
    public static func decide(_ volumes: [Volume]) -> Decision {
        let gone: Set<VolumeState> = [.deleting, .deleted, .error]
        let present = volumes.filter { !gone.contains($0.state) }
        let byId = Dictionary(present.map { ($0.volumeId, $0) }, uniquingKeysWith: { first, _ in first })
        var candidates: [Volume] = []
        var promotions: [String] = []
        var removals: [Repair] = []

        for volume in present {
            let marking = Marking(tags: volume.tags)
            switch marking.state {
            case .live:
                candidates.append(volume)
            case .retired:
                continue
            case .moved:
                if let target = marking.movedTo, byId[target] != nil { continue }
                candidates.append(volume)
                promotions.append(volume.volumeId)
            case .pending:
                guard let sourceId = marking.movedFrom else {
                    candidates.append(volume)   // a fresh create; promoted only if elected
                    continue
                }
                if let source = byId[sourceId] {
                    let sourceMarking = Marking(tags: source.tags)
                    if sourceMarking.state == .moved && sourceMarking.movedTo == volume.volumeId {
                        candidates.append(volume)
                        promotions.append(volume.volumeId)
                    } else {
                        removals.append(discard(volume, marking: marking))
                    }
                } else {
                    candidates.append(volume)
                    promotions.append(volume.volumeId)
                }
            }
        }

        let ordered = candidates.sorted(by: elected)
        guard let winner = ordered.first else {
            return Decision(live: nil, repairs: removals)
        }
        for loser in ordered.dropFirst() {
            removals.append(discard(loser, marking: Marking(tags: loser.tags)))
        }
        var repairs: [Repair] = []
        let winnerMarking = Marking(tags: winner.tags)
        if winnerMarking.state != .live || promotions.contains(winner.volumeId) {
            repairs.append(.promote(volumeId: winner.volumeId))
        }
        return Decision(live: winner, repairs: repairs + removals)
    }

    /// Whether `volume` is the live volume of its name among `all` (the `live` key of
    /// `describe-volumes`).
    /// - Parameters:
    ///   - volume: The volume.
    ///   - all: Every volume of the same name.
    /// - Returns: Whether ``decide(_:)`` elects it.
    public static func isLive(_ volume: Volume, among all: [Volume]) -> Bool {
        decide(all).live?.volumeId == volume.volumeId
    }

    /// Election order: higher generation first, then older, then smaller id.
    static func elected(_ lhs: Volume, _ rhs: Volume) -> Bool {
        let left = Marking(tags: lhs.tags).generation
        let right = Marking(tags: rhs.tags).generation
        if left != right { return left > right }
        let leftTime = lhs.createTime ?? .distantFuture
        let rightTime = rhs.createTime ?? .distantFuture
        return leftTime != rightTime ? leftTime < rightTime : lhs.volumeId < rhs.volumeId
    }

    private static func discard(_ volume: Volume, marking: Marking) -> Repair {
        let attached = volume.attachments.contains { $0.state != .detached }
        let neverUsed = marking.state == .pending && !marking.everHeld && !attached
        return neverUsed ? .delete(volumeId: volume.volumeId) : .retire(volumeId: volume.volumeId)
    }
}
