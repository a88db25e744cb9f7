import Foundation

/// What to launch with ``EC2Client/runInstances(_:)``.
///
/// For spot capacity set ``spot``: EC2 then launches through `InstanceMarketOptions`
/// (`MarketType=spot`), the way AWS recommends launching spot instances. The request type
/// follows from the interruption behaviour, as EC2 requires: `terminate` makes a one-time
/// request, `stop` and `hibernate` a persistent one.
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
    /// The instance-metadata options (`MetadataOptions`); nil leaves the AMI's defaults.
    public var metadataOptions: MetadataOptions?
    /// What a shutdown from inside the instance does; nil leaves EC2's default (`stop`).
    public var instanceInitiatedShutdownBehavior: ShutdownBehavior?

    /// What `shutdown` inside the instance does (`InstanceInitiatedShutdownBehavior`).
    public enum ShutdownBehavior: String, Sendable, Hashable, CaseIterable {
        /// The instance stops (EBS-backed instances only).
        case stop
        /// The instance is terminated: it no longer bills.
        case terminate
    }

    /// Instance-metadata service options (`MetadataOptions.*`).
    public struct MetadataOptions: Sendable, Hashable {
        /// Whether IMDS requests need a session token (`required`: IMDSv2 only).
        public enum Tokens: String, Sendable, Hashable, CaseIterable {
            /// IMDSv2 only.
            case required
            /// IMDSv1 is also answered.
            case optional
        }

        /// `HttpTokens`.
        public var httpTokens: Tokens
        /// `HttpPutResponseHopLimit`, 1…64: how many network hops the token response may
        /// travel (2 lets containers with a bridged network reach IMDS); nil leaves the
        /// AMI's default.
        public var hopLimit: Int?
        /// `HttpEndpoint`: whether the metadata service answers at all.
        public var endpointEnabled: Bool
        /// `HttpProtocolIpv6`: whether IMDS also answers on `[fd00:ec2::254]` (Nitro only);
        /// nil leaves the default (disabled).
        public var ipv6Enabled: Bool?

        /// Creates metadata options.
        /// - Parameters:
        ///   - httpTokens: `.required` (default) for IMDSv2 only.
        ///   - hopLimit: The PUT response hop limit, 1…64, or nil.
        ///   - endpointEnabled: Whether IMDS is on (default true; SpotTrain needs it).
        ///   - ipv6Enabled: Whether IMDS answers over IPv6, or nil.
        public init(httpTokens: Tokens = .required, hopLimit: Int? = nil, endpointEnabled: Bool = true,
                    ipv6Enabled: Bool? = nil) {
            if let hopLimit {
                precondition((1...64).contains(hopLimit), "MetadataOptions: hopLimit \(hopLimit) is not in 1...64")
            }
            self.httpTokens = httpTokens
            self.hopLimit = hopLimit
            self.endpointEnabled = endpointEnabled
            self.ipv6Enabled = ipv6Enabled
        }
    }

    /// The instance profile, by name or by ARN.
    public enum IAMInstanceProfile: Sendable, Hashable {
        /// By name, for example `spottrain`.
        case name(String)
        /// By ARN.
        case arn(String)
    }

    /// Spot market options.
    public struct SpotOptions: Sendable, Hashable {
        /// What EC2 does to the instance at an interruption.
        public enum InterruptionBehavior: String, Sendable, Hashable, CaseIterable {
            /// Terminate it (a one-time request).
            case terminate
            /// Stop it; EC2 starts it again when capacity returns (a persistent request).
            case stop
            /// Hibernate it (a persistent request; the instance must be configured for it).
            case hibernate
        }

        /// The highest hourly price to pay, in USD (nil: the on-demand price, as AWS recommends).
        public var maxPrice: String?
        /// What happens at an interruption.
        public var interruptionBehavior: InterruptionBehavior

        /// `SpotInstanceType`: `one-time` for `terminate`, `persistent` for `stop` and
        /// `hibernate` (EC2 accepts a persistent request only with those two, and stop or
        /// hibernate only for a persistent request).
        public var requestType: String { interruptionBehavior == .terminate ? "one-time" : "persistent" }

        /// Creates spot options.
        /// - Parameters:
        ///   - maxPrice: The price cap in USD per hour, or nil.
        ///   - interruptionBehavior: `.terminate` (default, one-time request), `.stop` or
        ///     `.hibernate` (persistent request).
        public init(maxPrice: String? = nil, interruptionBehavior: InterruptionBehavior = .terminate) {
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
    ///   - metadataOptions: Instance-metadata options, or nil for the AMI's defaults.
    ///   - instanceInitiatedShutdownBehavior: What an OS shutdown does, or nil.
    public init(imageId: String, instanceType: String, minCount: Int = 1, maxCount: Int = 1,
                keyName: String? = nil, securityGroupIds: [String] = [], subnetId: String? = nil,
                iamInstanceProfile: IAMInstanceProfile? = nil, userData: String? = nil,
                availabilityZone: String? = nil, tagSpecifications: [TagSpecification] = [],
                spot: SpotOptions? = nil, clientToken: String? = nil, metadataOptions: MetadataOptions? = nil,
                instanceInitiatedShutdownBehavior: ShutdownBehavior? = nil) {
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
        self.metadataOptions = metadataOptions
        self.instanceInitiatedShutdownBehavior = instanceInitiatedShutdownBehavior
    }
}
