/// What `CreateAutoScalingGroup` creates: a group launching from a mixed-instances policy
/// into a set of subnets.
public struct CreateAutoScalingGroupRequest: Sendable, Hashable {
    /// The group's name (unique in the account and region; at most 255 characters).
    public var autoScalingGroupName: String
    /// The launch template, instance types and on-demand / spot split.
    public var mixedInstancesPolicy: MixedInstancesPolicy
    /// The smallest number of instances.
    public var minSize: Int
    /// The largest number of instances.
    public var maxSize: Int
    /// The number of instances to work towards (nil: `minSize`).
    public var desiredCapacity: Int?
    /// The subnets (each in its zone); sent comma-joined as `VPCZoneIdentifier`.
    public var subnetIds: [String]
    /// Whether to launch a replacement at a rebalance recommendation, before the spot
    /// interruption notice.
    public var capacityRebalance: Bool
    /// The group's tags (those with ``AutoScalingTag/propagateAtLaunch`` are copied to its
    /// instances).
    public var tags: [AutoScalingTag]
    /// Seconds after launch before the group's health checks count (nil: AWS's default).
    public var healthCheckGracePeriod: Int?
    /// Seconds after launch before an instance counts towards metrics (nil: AWS's default).
    public var defaultInstanceWarmup: Int?

    /// Creates a request.
    /// - Parameters:
    ///   - autoScalingGroupName: The name; must not be empty.
    ///   - mixedInstancesPolicy: The policy; must name at least one instance type.
    ///   - minSize: The minimum (≥ 0).
    ///   - maxSize: The maximum (≥ `minSize`).
    ///   - desiredCapacity: The desired capacity (in `minSize...maxSize`), or nil.
    ///   - subnetIds: The subnets; at least one.
    ///   - capacityRebalance: Whether capacity rebalancing is on (default true).
    ///   - tags: The tags.
    ///   - healthCheckGracePeriod: Seconds, or nil.
    ///   - defaultInstanceWarmup: Seconds, or nil.
    public init(autoScalingGroupName: String, mixedInstancesPolicy: MixedInstancesPolicy, minSize: Int, maxSize: Int,
                desiredCapacity: Int? = nil, subnetIds: [String], capacityRebalance: Bool = true,
                tags: [AutoScalingTag] = [], healthCheckGracePeriod: Int? = nil, defaultInstanceWarmup: Int? = nil) {
        precondition(!autoScalingGroupName.isEmpty, "CreateAutoScalingGroupRequest: empty group name")
        precondition(!mixedInstancesPolicy.instanceTypes.isEmpty, "CreateAutoScalingGroupRequest: no instance types")
        precondition(!subnetIds.isEmpty, "CreateAutoScalingGroupRequest: no subnets")
        precondition(minSize >= 0 && maxSize >= minSize,
                     "CreateAutoScalingGroupRequest: need 0 <= minSize (\(minSize)) <= maxSize (\(maxSize))")
        precondition(desiredCapacity.map { (minSize...maxSize).contains($0) } ?? true,
                     "CreateAutoScalingGroupRequest: desiredCapacity \(desiredCapacity ?? 0) not in \(minSize)...\(maxSize)")
        self.autoScalingGroupName = autoScalingGroupName
        self.mixedInstancesPolicy = mixedInstancesPolicy
        self.minSize = minSize
        self.maxSize = maxSize
        self.desiredCapacity = desiredCapacity
        self.subnetIds = subnetIds
        self.capacityRebalance = capacityRebalance
        self.tags = tags
        self.healthCheckGracePeriod = healthCheckGracePeriod
        self.defaultInstanceWarmup = defaultInstanceWarmup
    }
}
