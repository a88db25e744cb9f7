import Foundation

/// An Auto Scaling group as `DescribeAutoScalingGroups` reports it.
public struct AutoScalingGroup: Sendable, Hashable {
    /// The group's name.
    public var autoScalingGroupName: String
    /// The group's ARN (empty if not reported).
    public var autoScalingGroupARN: String
    /// The smallest number of instances.
    public var minSize: Int
    /// The largest number of instances.
    public var maxSize: Int
    /// The number of instances the group is working towards.
    public var desiredCapacity: Int
    /// The instance types, subnets and purchase options, when the group has a mixed-instances
    /// policy.
    public var mixedInstancesPolicy: MixedInstancesPolicy?
    /// The launch template, when the group names one directly (not through a mixed policy).
    public var launchTemplate: LaunchTemplateSpecification?
    /// The Availability Zones the group may launch in.
    public var availabilityZones: [String]
    /// The subnets, comma-separated as AWS stores them (`VPCZoneIdentifier`).
    public var vpcZoneIdentifier: String
    /// The instances the group currently has.
    public var instances: [AutoScalingInstance]
    /// The group's tags.
    public var tags: [AutoScalingTag]
    /// Whether capacity rebalancing is on (a replacement is launched at a rebalance
    /// recommendation, before the interruption notice).
    public var capacityRebalance: Bool
    /// `Delete in progress` while the group is being deleted, else nil.
    public var status: String?
    /// When the group was created.
    public var createdTime: Date?

    /// The subnets of ``vpcZoneIdentifier``.
    public var subnetIds: [String] {
        vpcZoneIdentifier.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// Creates a group description (for tests and fakes).
    /// - Parameters:
    ///   - autoScalingGroupName: The name.
    ///   - autoScalingGroupARN: The ARN.
    ///   - minSize: The minimum size.
    ///   - maxSize: The maximum size.
    ///   - desiredCapacity: The desired capacity.
    ///   - mixedInstancesPolicy: The mixed-instances policy.
    ///   - launchTemplate: The launch template named directly.
    ///   - availabilityZones: The zones.
    ///   - vpcZoneIdentifier: The comma-separated subnets.
    ///   - instances: The instances.
    ///   - tags: The tags.
    ///   - capacityRebalance: Whether capacity rebalancing is on.
    ///   - status: The deletion status.
    ///   - createdTime: The creation time.
    public init(autoScalingGroupName: String, autoScalingGroupARN: String = "", minSize: Int, maxSize: Int,
                desiredCapacity: Int, mixedInstancesPolicy: MixedInstancesPolicy? = nil,
                launchTemplate: LaunchTemplateSpecification? = nil, availabilityZones: [String] = [],
                vpcZoneIdentifier: String = "", instances: [AutoScalingInstance] = [], tags: [AutoScalingTag] = [],
                capacityRebalance: Bool = false, status: String? = nil, createdTime: Date? = nil) {
        self.autoScalingGroupName = autoScalingGroupName
        self.autoScalingGroupARN = autoScalingGroupARN
        self.minSize = minSize
        self.maxSize = maxSize
        self.desiredCapacity = desiredCapacity
        self.mixedInstancesPolicy = mixedInstancesPolicy
        self.launchTemplate = launchTemplate
        self.availabilityZones = availabilityZones
        self.vpcZoneIdentifier = vpcZoneIdentifier
        self.instances = instances
        self.tags = tags
        self.capacityRebalance = capacityRebalance
        self.status = status
        self.createdTime = createdTime
    }
}

/// One instance of an Auto Scaling group.
public struct AutoScalingInstance: Sendable, Hashable {
    /// The instance id, `i-…`.
    public var instanceId: String
    /// The instance type, for example `c7g.large` (empty if not reported).
    public var instanceType: String
    /// The Availability Zone.
    public var availabilityZone: String
    /// The lifecycle state: `Pending`, `InService`, `Terminating`, `Terminated`, ….
    public var lifecycleState: String
    /// `Healthy` or `Unhealthy`.
    public var healthStatus: String
    /// The launch template the instance was launched from.
    public var launchTemplate: LaunchTemplateSpecification?

    /// Whether the group counts the instance as serving (`InService`).
    public var isInService: Bool { lifecycleState == "InService" }

    /// Creates an instance record.
    /// - Parameters:
    ///   - instanceId: The id.
    ///   - instanceType: The type.
    ///   - availabilityZone: The zone.
    ///   - lifecycleState: The lifecycle state.
    ///   - healthStatus: The health status.
    ///   - launchTemplate: The launch template.
    public init(instanceId: String, instanceType: String, availabilityZone: String, lifecycleState: String,
                healthStatus: String, launchTemplate: LaunchTemplateSpecification? = nil) {
        self.instanceId = instanceId
        self.instanceType = instanceType
        self.availabilityZone = availabilityZone
        self.lifecycleState = lifecycleState
        self.healthStatus = healthStatus
        self.launchTemplate = launchTemplate
    }
}

/// A tag of an Auto Scaling group, optionally copied to the instances it launches.
public struct AutoScalingTag: Sendable, Hashable {
    /// The key.
    public var key: String
    /// The value.
    public var value: String
    /// Whether instances launched by the group get the tag too.
    public var propagateAtLaunch: Bool

    /// Creates a tag.
    /// - Parameters:
    ///   - key: The key.
    ///   - value: The value.
    ///   - propagateAtLaunch: Whether launched instances get the tag.
    public init(key: String, value: String, propagateAtLaunch: Bool = true) {
        self.key = key
        self.value = value
        self.propagateAtLaunch = propagateAtLaunch
    }
}

/// Which launch template (and version) a group launches from: by id or by name.
public struct LaunchTemplateSpecification: Sendable, Hashable {
    /// How the template is named.
    public enum Reference: Sendable, Hashable {
        /// By id, `lt-…`.
        case id(String)
        /// By name.
        case name(String)
    }

    /// The template's id, when known.
    public var launchTemplateId: String?
    /// The template's name, when known.
    public var launchTemplateName: String?
    /// The version: `$Latest`, `$Default` or a number.
    public var version: String?

    /// The `$Latest` version.
    public static let latestVersion = "$Latest"
    /// The `$Default` version.
    public static let defaultVersion = "$Default"

    /// Creates a specification.
    /// - Parameters:
    ///   - reference: The template, by id or by name.
    ///   - version: The version (default `$Latest`).
    public init(_ reference: Reference, version: String? = LaunchTemplateSpecification.latestVersion) {
        switch reference {
        case .id(let id): launchTemplateId = id
        case .name(let name): launchTemplateName = name
        }
        self.version = version
    }

    /// Creates a specification as AWS reports it (id and name may both be present).
    /// - Parameters:
    ///   - launchTemplateId: The id.
    ///   - launchTemplateName: The name.
    ///   - version: The version.
    public init(launchTemplateId: String?, launchTemplateName: String?, version: String?) {
        self.launchTemplateId = launchTemplateId
        self.launchTemplateName = launchTemplateName
        self.version = version
    }
}

/// A group's mixed-instances policy: one launch template, several instance types, and how
/// the capacity is split between on-demand and spot.
public struct MixedInstancesPolicy: Sendable, Hashable {
    /// The launch template.
    public var launchTemplate: LaunchTemplateSpecification
    /// The instance types, one override each (in order of preference for the
    /// `prioritized` strategies).
    public var instanceTypes: [String]
    /// The purchase options.
    public var instancesDistribution: InstancesDistribution

    /// Creates a policy.
    /// - Parameters:
    ///   - launchTemplate: The launch template.
    ///   - instanceTypes: The instance types (`Overrides`, one per type).
    ///   - instancesDistribution: The purchase options (default: all spot,
    ///     `price-capacity-optimized`).
    public init(launchTemplate: LaunchTemplateSpecification, instanceTypes: [String],
                instancesDistribution: InstancesDistribution = .allSpot) {
        self.launchTemplate = launchTemplate
        self.instanceTypes = instanceTypes
        self.instancesDistribution = instancesDistribution
    }
}

/// The on-demand / spot split of a mixed-instances policy.
public struct InstancesDistribution: Sendable, Hashable {
    /// Instances always bought on demand, before any percentage applies.
    public var onDemandBaseCapacity: Int?
    /// The percentage (0…100) of capacity above the base bought on demand.
    public var onDemandPercentageAboveBaseCapacity: Int?
    /// How spot capacity is chosen: `price-capacity-optimized`, `capacity-optimized`,
    /// `lowest-price`, ….
    public var spotAllocationStrategy: String?
    /// How on-demand capacity is chosen (`lowest-price`, `prioritized`).
    public var onDemandAllocationStrategy: String?
    /// The most paid per instance-hour for spot, USD per hour (nil: the on-demand price).
    public var spotMaxPrice: String?

    /// The `price-capacity-optimized` strategy: pools with the most capacity, then the lowest
    /// price (AWS's recommended default for interruptible work).
    public static let priceCapacityOptimized = "price-capacity-optimized"

    /// No on-demand capacity at all (base 0, 0 % above base), spot chosen
    /// `price-capacity-optimized`.
    public static var allSpot: InstancesDistribution {
        InstancesDistribution(onDemandBaseCapacity: 0, onDemandPercentageAboveBaseCapacity: 0,
                              spotAllocationStrategy: priceCapacityOptimized)
    }

    /// Creates a distribution; nil fields are left to AWS's defaults.
    /// - Parameters:
    ///   - onDemandBaseCapacity: On-demand instances before the percentage applies (≥ 0).
    ///   - onDemandPercentageAboveBaseCapacity: Percentage 0…100 above the base.
    ///   - spotAllocationStrategy: The spot strategy.
    ///   - onDemandAllocationStrategy: The on-demand strategy.
    ///   - spotMaxPrice: The spot price cap, USD per hour.
    public init(onDemandBaseCapacity: Int? = nil, onDemandPercentageAboveBaseCapacity: Int? = nil,
                spotAllocationStrategy: String? = nil, onDemandAllocationStrategy: String? = nil,
                spotMaxPrice: String? = nil) {
        precondition(onDemandBaseCapacity.map { $0 >= 0 } ?? true,
                     "InstancesDistribution: onDemandBaseCapacity \(onDemandBaseCapacity ?? 0) < 0")
        precondition(onDemandPercentageAboveBaseCapacity.map { (0...100).contains($0) } ?? true,
                     "InstancesDistribution: onDemandPercentageAboveBaseCapacity \(onDemandPercentageAboveBaseCapacity ?? 0) not in 0...100")
        self.onDemandBaseCapacity = onDemandBaseCapacity
        self.onDemandPercentageAboveBaseCapacity = onDemandPercentageAboveBaseCapacity
        self.spotAllocationStrategy = spotAllocationStrategy
        self.onDemandAllocationStrategy = onDemandAllocationStrategy
        self.spotMaxPrice = spotMaxPrice
    }
}

/// One entry of a group's scaling history (`DescribeScalingActivities`): a launch or a
/// termination, with its cause.
public struct ScalingActivity: Sendable, Hashable {
    /// The activity id.
    public var activityId: String
    /// The group.
    public var autoScalingGroupName: String
    /// What was done, for example `Launching a new EC2 instance: i-…`.
    public var description: String
    /// Why, for example `… an instance was taken out of service in response to an EC2
    /// instance status check failure` or a spot interruption.
    public var cause: String
    /// `Successful`, `InProgress`, `Failed`, `Cancelled`, ….
    public var statusCode: String
    /// Detail on the status (for example why a launch failed).
    public var statusMessage: String?
    /// When it started.
    public var startTime: Date?
    /// When it ended (nil while in progress).
    public var endTime: Date?

    /// Creates an activity record.
    /// - Parameters:
    ///   - activityId: The id.
    ///   - autoScalingGroupName: The group.
    ///   - description: What was done.
    ///   - cause: Why.
    ///   - statusCode: The status.
    ///   - statusMessage: Detail on the status.
    ///   - startTime: The start.
    ///   - endTime: The end.
    public init(activityId: String, autoScalingGroupName: String, description: String, cause: String,
                statusCode: String, statusMessage: String? = nil, startTime: Date? = nil, endTime: Date? = nil) {
        self.activityId = activityId
        self.autoScalingGroupName = autoScalingGroupName
        self.description = description
        self.cause = cause
        self.statusCode = statusCode
        self.statusMessage = statusMessage
        self.startTime = startTime
        self.endTime = endTime
    }
}
