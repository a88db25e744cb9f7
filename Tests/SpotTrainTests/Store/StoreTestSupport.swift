import Dispatch
import Foundation
import SpotTrain

/// A gate that async code waits at until a test opens it (no thread is blocked meanwhile).
final class Gate: @unchecked Sendable {
    private let lock = NSLock()
    private var isOpen = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = lock.withLock {
                if isOpen { return true }
                waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    func open() {
        let waiting = lock.withLock {
            isOpen = true
            defer { waiters = [] }
            return waiters
        }
        for continuation in waiting { continuation.resume() }
    }
}

/// A ``CheckpointStore`` backed by a local ``CheckpointDirectory``, with injected faults:
/// puts that wait at a gate each, fail with `.unavailable` a number of times, or are refused;
/// a listing or download that fails; downloads whose bytes are damaged on the way.
final class FaultyStore: CheckpointStore, @unchecked Sendable {
    /// Damage done to a downloaded object's bytes.
    enum Damage: String, CaseIterable, Sendable {
        /// One byte in the middle inverted.
        case flipByte
        /// The second half missing (as a partial transfer).
        case truncate
    }

    let base: CheckpointDirectory
    /// Puts wait at `putGates[n]` (the n-th put, 0-based) when there is one.
    let putGates: [Gate]
    /// Every put is refused (`.refused`).
    let refusePuts: Bool
    /// Listing fails with this code.
    let listFailure: CheckpointStoreError.Code?
    /// Downloads fail with this code.
    let getFailure: CheckpointStoreError.Code?
    /// Downloads of these names are damaged.
    let damage: [String: Damage]

    private let lock = NSLock()
    private var unavailablePutsLeft: Int
    private var puts: [String] = []
    private var gets: [String] = []
    /// Signalled when a put starts (before it waits at its gate).
    let putStarted = DispatchSemaphore(value: 0)

    init(_ base: CheckpointDirectory, putGates: [Gate] = [], unavailablePuts: Int = 0, refusePuts: Bool = false,
         listFailure: CheckpointStoreError.Code? = nil, getFailure: CheckpointStoreError.Code? = nil,
         damage: [String: Damage] = [:]) {
        self.base = base
        self.putGates = putGates
        self.unavailablePutsLeft = unavailablePuts
        self.refusePuts = refusePuts
        self.listFailure = listFailure
        self.getFailure = getFailure
        self.damage = damage
    }

    /// The names of every put attempted, in order.
    var putAttempts: [String] { lock.withLock { puts } }
    /// The names of every get attempted, in order.
    var getAttempts: [String] { lock.withLock { gets } }

    var location: String { base.location }
    func location(of name: String) -> String { base.location(of: name) }
    func checkAccess() async throws { try await base.checkAccess() }

    func list() async throws -> [StoredCheckpoint] {
        if let listFailure { throw CheckpointStoreError(listFailure, "injected list failure", location: location) }
        return try await base.list()
    }

    @discardableResult
    func put(_ name: String, bytes: [UInt8]) async throws -> StoredCheckpoint {
        let (index, fail): (Int, Bool) = lock.withLock {
            puts.append(name)
            let fail = unavailablePutsLeft > 0
            if fail { unavailablePutsLeft -= 1 }
            return (puts.count - 1, fail)
        }
        putStarted.signal()
        if index < putGates.count { await putGates[index].wait() }
        if refusePuts {
            throw CheckpointStoreError(.refused, "injected refusal", location: location(of: name), serviceCode: "AccessDenied")
        }
        if fail { throw CheckpointStoreError(.unavailable, "injected transient failure", location: location(of: name)) }
        return try await base.put(name, bytes: bytes)
    }

    func get(_ name: String, maxBytes: Int) async throws -> [UInt8] {
        lock.withLock { gets.append(name) }
        if let getFailure { throw CheckpointStoreError(getFailure, "injected get failure", location: location(of: name)) }
        var bytes = try await base.get(name, maxBytes: maxBytes)
        switch damage[name] {
        case .flipByte?: bytes[bytes.count / 2] ^= 0xFF
        case .truncate?: bytes.removeLast(bytes.count / 2)
        case nil: break
        }
        return bytes
    }

    func delete(_ names: [String]) async throws { try await base.delete(names) }
    func setAside(_ names: [String], into folder: String) async throws { try await base.setAside(names, into: folder) }
}

/// Opens gates (and records that it had to) if a test has not finished `seconds` after it
/// started: a hang becomes a failure instead of a stuck test run. Never a speed bound.
final class HangWatchdog: @unchecked Sendable {
    private let lock = NSLock()
    private var finished = false
    private var firedFlag = false

    init(seconds: Double = 30, opening gates: [Gate]) {
        let thread = Thread { [self] in
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if lock.withLock({ finished }) { return }
                usleep(20_000)
            }
            lock.withLock { firedFlag = true }
            for gate in gates { gate.open() }
        }
        thread.start()
    }

    /// Whether it had to open the gates.
    var fired: Bool { lock.withLock { firedFlag } }

    /// Stops watching.
    func finish() { lock.withLock { finished = true } }
}

/// Shared helpers of the store tests.
enum StoreFixtures {
    /// 64 examples at batch 16: 4 steps per epoch.
    static var train: Dataset { makeToyDataset(count: 64, seed: 5) }

    /// A local directory and a store directory, both fresh; `cleanup` removes both.
    static func directories() throws -> (local: CheckpointDirectory, store: CheckpointDirectory, cleanup: () -> Void) {
        let local = try CheckpointFixtures.temporaryDirectory()
        let store = try CheckpointFixtures.temporaryDirectory()
        return (CheckpointDirectory(path: local), CheckpointDirectory(path: store), {
            CheckpointFixtures.remove(local)
            CheckpointFixtures.remove(store)
        })
    }

    /// The checkpoint files of a directory (the synchronous listing, also from async code,
    /// where `list()` would mean the store's).
    static func files(_ directory: CheckpointDirectory) throws -> [CheckpointFile] { try directory.list() }

    /// The bytes of a file.
    static func bytes(_ path: String) throws -> [UInt8] { try CheckpointFixtures.read(path) }

    /// Waits (blocking, polling) until `condition` holds or `seconds` pass.
    @discardableResult
    static func eventually(seconds: Double = 20, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            if try condition() { return true }
            if Date() >= deadline { return false }
            usleep(5_000)
        }
    }
}

/// Waits, after each save of `saver`, until its upload has ended (registered after the saver),
/// so that no upload is superseded and each checkpoint's upload can be checked.
final class WaitForEachUpload: Callback {
    let saver: ModelCheckpoint
    let mirror: CheckpointMirror
    private(set) var results: [String: [CheckpointMirror.UploadResult]] = [:]
    private var seen = 0

    init(saver: ModelCheckpoint, mirror: CheckpointMirror) {
        self.saver = saver
        self.mirror = mirror
    }

    private func check() {
        guard saver.saveCount != seen, let file = saver.lastSaved else { return }
        seen = saver.saveCount
        results[file.name, default: []].append(mirror.wait(for: file, timeout: 20))
    }

    func batchEnd(_ context: TrainingContext) throws { check() }
    func epochEnd(_ context: TrainingContext) throws { check() }
}
