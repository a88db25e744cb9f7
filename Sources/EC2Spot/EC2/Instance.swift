import Foundation

/// An EC2 instance as `DescribeInstances` / `RunInstances` report it.
public struct Instance: Sendable, Hashable {
    /// The id, `i-…`.
    public var instanceId: String
    /// The state.
    public var state: InstanceState
    /// The Availability Zone (empty if not reported).
    public var availabilityZone: String
    /// The instance type, for example `g5.xlarge`.
    public var instanceType: String
    /// The AMI id.
    public var imageId: String?
    /// `spot` for spot instances, `capacity-block` for capacity blocks, nil for on-demand.
    public var lifecycle: String?
    /// The spot request behind a spot instance.
    public var spotInstanceRequestId: String?
    /// The private IPv4 address.
    public var privateIpAddress: String?
    /// The public IPv4 address.
    public var publicIpAddress: String?
    /// When it was launched.
    public var launchTime: Date?
    /// The tags.
    public var tags: [Tag]
    /// Why the instance last changed state, in EC2's code and message (for example
    /// `Server.SpotInstanceTermination` or `Client.UserInitiatedShutdown`); nil if not reported.
    public var stateReason: StateReason?
    /// EC2's free-text reason for the last transition (`stateTransitionReason`), for example
    /// `User initiated (2024-06-01 12:00:00 GMT)`; nil if not reported.
    public var stateTransitionReason: String?

    /// Whether the instance is a spot instance.
    public var isSpot: Bool { lifecycle == "spot" }

    /// Creates an instance description (mostly for tests and fakes).
    /// - Parameters:
    ///   - instanceId: The id.
    ///   - state: The state.
    ///   - availabilityZone: The Availability Zone.
    ///   - instanceType: The type.
    ///   - imageId: The AMI.
    ///   - lifecycle: `spot` or nil.
    ///   - spotInstanceRequestId: The spot request id.
    ///   - privateIpAddress: The private address.
    ///   - publicIpAddress: The public address.
    ///   - launchTime: The launch time.
    ///   - tags: The tags.
    ///   - stateReason: Why the state last changed.
    ///   - stateTransitionReason: EC2's free-text transition reason.
    public init(instanceId: String, state: InstanceState, availabilityZone: String, instanceType: String,
                imageId: String? = nil, lifecycle: String? = nil, spotInstanceRequestId: String? = nil,
                privateIpAddress: String? = nil, publicIpAddress: String? = nil, launchTime: Date? = nil,
                tags: [Tag] = [], stateReason: StateReason? = nil, stateTransitionReason: String? = nil) {
        self.stateReason = stateReason
        self.stateTransitionReason = stateTransitionReason
        self.instanceId = instanceId
        self.state = state
        self.availabilityZone = availabilityZone
        self.instanceType = instanceType
        self.imageId = imageId
        self.lifecycle = lifecycle
        self.spotInstanceRequestId = spotInstanceRequestId
        self.privateIpAddress = privateIpAddress
        self.publicIpAddress = publicIpAddress
        self.launchTime = launchTime
        self.tags = tags
    }
}

/// Why an instance changed state (`stateReason`): EC2's code and message.
public struct StateReason: Sendable, Hashable {
    /// The code, for example `Server.SpotInstanceTermination`, `Client.UserInitiatedShutdown`
    /// or `Client.InstanceInitiatedShutdown`.
    public var code: String
    /// The message.
    public var message: String

    /// Whether EC2 reclaimed a spot instance (`Server.SpotInstanceTermination`,
    /// `Server.SpotInstanceShutdown`).
    public var isSpotInterruption: Bool { code.hasPrefix("Server.SpotInstance") }

    /// Creates a reason.
    /// - Parameters:
    ///   - code: The code.
    ///   - message: The message.
    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }
}

/// An instance's state (`pending`, `running`, `shutting-down`, `terminated`, `stopping`, `stopped`).
public struct InstanceState: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The state name as EC2 spells it.
    public var rawValue: String
    /// Creates a state from EC2's spelling.
    /// - Parameter rawValue: The state name.
    public init(rawValue: String) { self.rawValue = rawValue }
    /// Starting.
    public static let pending = InstanceState(rawValue: "pending")
    /// Running.
    public static let running = InstanceState(rawValue: "running")
    /// Terminating.
    public static let shuttingDown = InstanceState(rawValue: "shutting-down")
    /// Gone.
    public static let terminated = InstanceState(rawValue: "terminated")
    /// Stopping.
    public static let stopping = InstanceState(rawValue: "stopping")
    /// Stopped.
    public static let stopped = InstanceState(rawValue: "stopped")
    /// The raw value.
    public var description: String { rawValue }
}

/// The state change TerminateInstances reports for one instance.
public struct InstanceStateChange: Sendable, Hashable {
    /// The instance id.
    public var instanceId: String
    /// The state before the call.
    public var previousState: InstanceState
    /// The state after the call.
    public var currentState: InstanceState

    /// Creates a state change.
    /// - Parameters:
    ///   - instanceId: The instance id.
    ///   - previousState: The state before.
    ///   - currentState: The state after.
    public init(instanceId: String, previousState: InstanceState, currentState: InstanceState) {
        self.instanceId = instanceId
        self.previousState = previousState
        self.currentState = currentState
    }
}
