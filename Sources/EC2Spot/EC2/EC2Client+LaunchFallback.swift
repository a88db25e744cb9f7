import Foundation

/// One (instance type, subnet) pair that ``EC2Client/runInstances(_:candidates:)`` may launch.
public struct LaunchCandidate: Sendable, Hashable, CustomStringConvertible {
    /// The instance type, for example `c7i.xlarge`.
    public var instanceType: String
    /// The subnet, or nil for the request's own placement.
    public var subnetId: String?

    /// Creates a candidate.
    /// - Parameters:
    ///   - instanceType: The instance type.
    ///   - subnetId: The subnet, or nil.
    public init(instanceType: String, subnetId: String? = nil) {
        self.instanceType = instanceType
        self.subnetId = subnetId
    }

    /// Every type in every subnet, types first: each subnet is tried with the first type
    /// before the second type is tried anywhere.
    /// - Parameters:
    ///   - instanceTypes: The types, most wanted first (at least one).
    ///   - subnetIds: The subnets, most wanted first (empty: one candidate per type, no subnet).
    /// - Returns: The candidates in trial order.
    public static func product(instanceTypes: [String], subnetIds: [String]) -> [LaunchCandidate] {
        precondition(!instanceTypes.isEmpty, "LaunchCandidate.product: no instance types")
        let subnets: [String?] = subnetIds.isEmpty ? [nil] : subnetIds
        return instanceTypes.flatMap { type in subnets.map { LaunchCandidate(instanceType: type, subnetId: $0) } }
    }

    /// `c7i.xlarge in subnet-…` (or just the type).
    public var description: String { subnetId.map { "\(instanceType) in \($0)" } ?? instanceType }
}

/// A candidate EC2 had no capacity for.
public struct LaunchShortage: Sendable, Equatable {
    /// What was tried.
    public var candidate: LaunchCandidate
    /// What EC2 answered (one of ``EC2Error/capacityShortageCodes``).
    public var error: EC2Error
}

/// What ``EC2Client/runInstances(_:candidates:)`` launched, and what it tried before.
public struct LaunchOutcome: Sendable {
    /// The launched instances.
    public var instances: [Instance]
    /// The candidate that succeeded.
    public var candidate: LaunchCandidate
    /// The candidates tried before it, each with its capacity error.
    public var shortages: [LaunchShortage]
}

/// Every candidate failed with a capacity shortage.
public struct LaunchCapacityError: Error, Sendable, CustomStringConvertible {
    /// Each candidate and its error, in trial order.
    public var shortages: [LaunchShortage]

    /// `no capacity for any candidate: c7i.xlarge in subnet-1: InsufficientInstanceCapacity (…); …`.
    public var description: String {
        "no capacity for any candidate: "
            + shortages.map { "\($0.candidate): \($0.error.code) (\($0.error.message))" }.joined(separator: "; ")
    }
}

extension EC2Client {
    /// Launches `request` with the first candidate EC2 has capacity for: each candidate
    /// replaces the request's instance type and (when it names one) subnet; a capacity error
    /// (``EC2Error/isCapacityShortage``) moves on to the next candidate, any other error is
    /// thrown at once. Each candidate gets its own client token (the request's token, if any,
    /// with `-<index>` appended), so that retries stay idempotent per candidate.
    /// - Parameters:
    ///   - request: What to launch.
    ///   - candidates: Instance type and subnet pairs in trial order (at least one).
    /// - Returns: The instances, the candidate that worked and the shortages before it.
    /// - Throws: ``LaunchCapacityError`` when every candidate had a shortage; ``EC2Error``,
    ///   ``TransportError`` for any other failure.
    public func runInstances(_ request: RunInstancesRequest, candidates: [LaunchCandidate]) async throws -> LaunchOutcome {
        precondition(!candidates.isEmpty, "runInstances(_:candidates:): no candidates")
        var shortages: [LaunchShortage] = []
        for (index, candidate) in candidates.enumerated() {
            var attempt = request
            attempt.instanceType = candidate.instanceType
            if let subnet = candidate.subnetId { attempt.subnetId = subnet }
            if let token = request.clientToken { attempt.clientToken = "\(token)-\(index + 1)" }
            do {
                let instances = try await runInstances(attempt)
                return LaunchOutcome(instances: instances, candidate: candidate, shortages: shortages)
            } catch let error as EC2Error where error.isCapacityShortage {
                shortages.append(LaunchShortage(candidate: candidate, error: error))
            }
        }
        throw LaunchCapacityError(shortages: shortages)
    }
}
