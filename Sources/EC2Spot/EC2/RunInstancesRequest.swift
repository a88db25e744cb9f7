import Foundation

/// What to launch with ``EC2Client/runInstances(_:)``.
///
/// For spot capacity set ``spot``: EC2 then launches through `InstanceMarketOptions`
/// (`MarketType=spot`, a one-time request that terminates on interruption), the way AWS
/// recommends launching spot instances.
public struct RunInstancesRequest: Sendable, Hashable {
    /// The AMI id, `ami-…`.
    public var imageId: String
    /// The instance type, for example `g5.xlarge`.
    public var instanceType: String
    /// How many instances at least (EC2 fails if it cannot launch this many).
    public var minCount: Int
    /// How many instances at most.
    public var maxCount: Int
    /// The EC2 key pair name for SSH.
    public var keyName: String?
    /// Security group ids (`sg-…`).
    public var securityGroupIds: [String]
    /// The subnet (which also fixes the Availability Zone).
    public var subnetId: String?
    /// The instance profile (role) the instance runs with.
    public var iamInstanceProfile: IAMInstanceProfile?
    /// The user-data script as plain text; the client base64-encodes it. At most 16 KiB.
    public var userData: String?
    /// The Availability Zone to launch into.
    public var availabilityZone: String?
    /// Tags for the instance and other created resources.
    public var tagSpecifications: [TagSpecification]
    /// Spot options; nil launches on-demand.
    public var spot: SpotOptions?
    /// An idempotency token: retrying with the same token does not launch twice.
    public var clientToken: String?

    /// The instance profile, by name or by ARN.
    public enum IAMInstanceProfile: Sendable, Hashable {
        /// By name, for example `spottrain`.
        case name(String)
        /// By ARN.
        case arn(String)
    }

    /// Spot market options.
    public struct SpotOptions: Sendable, Hashable {
        /// The highest hourly price to pay, in USD (nil: the on-demand price, as AWS recommends).
        public var maxPrice: String?
        /// What happens at an interruption; `terminate` is the only choice for one-time requests.
        public var interruptionBehavior: String

        /// Creates spot options for a one-time request.
        /// - Parameters:
        ///   - maxPrice: The price cap in USD per hour, or nil.
        ///   - interruptionBehavior: `terminate` (default), `stop` or `hibernate`.
        public init(maxPrice: String? = nil, interruptionBehavior: String = "terminate") {
            self.maxPrice = maxPrice
            self.interruptionBehavior = interruptionBehavior
        }
    }

    /// Creates a request for one instance.
    /// - Parameters:
    ///   - imageId: The AMI id.
    ///   - instanceType: The instance type.
    ///   - minCount: Minimum number to launch (≥ 1).
    ///   - maxCount: Maximum number to launch (≥ `minCount`).
    ///   - keyName: The key pair.
    ///   - securityGroupIds: Security group ids.
    ///   - subnetId: The subnet.
    ///   - iamInstanceProfile: The instance profile.
    ///   - userData: The user-data script (plain text).
    ///   - availabilityZone: The Availability Zone.
    ///   - tagSpecifications: Tags for created resources.
    ///   - spot: Spot options, or nil for on-demand.
    ///   - clientToken: Idempotency token.
    public init(imageId: String, instanceType: String, minCount: Int = 1, maxCount: Int = 1,
                keyName: String? = nil, securityGroupIds: [String] = [], subnetId: String? = nil,
                iamInstanceProfile: IAMInstanceProfile? = nil, userData: String? = nil,
                availabilityZone: String? = nil, tagSpecifications: [TagSpecification] = [],
                spot: SpotOptions? = nil, clientToken: String? = nil) {
        precondition(minCount >= 1 && maxCount >= minCount,
                     "RunInstancesRequest: need 1 <= minCount (\(minCount)) <= maxCount (\(maxCount))")
        self.imageId = imageId
        self.instanceType = instanceType
        self.minCount = minCount
        self.maxCount = maxCount
        self.keyName = keyName
        self.securityGroupIds = securityGroupIds
        self.subnetId = subnetId
        self.iamInstanceProfile = iamInstanceProfile
        self.userData = userData
        self.availabilityZone = availabilityZone
        self.tagSpecifications = tagSpecifications
        self.spot = spot
        self.clientToken = clientToken
    }
}
