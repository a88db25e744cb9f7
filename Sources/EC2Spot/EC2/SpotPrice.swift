import Foundation

/// One point of the spot price history (`DescribeSpotPriceHistory`): from ``timestamp`` on,
/// until the next point of the same type and zone, spot capacity of ``instanceType`` in
/// ``availabilityZone`` cost ``pricePerHour``.
public struct SpotPrice: Sendable, Hashable {
    /// The instance type, for example `c7g.large`.
    public var instanceType: String
    /// The Availability Zone.
    public var availabilityZone: String
    /// The product, for example `Linux/UNIX`.
    public var productDescription: String
    /// The price in USD per instance-hour (exact decimal, as AWS writes it).
    public var pricePerHour: Decimal
    /// When this price took effect.
    public var timestamp: Date

    /// Creates a price point.
    /// - Parameters:
    ///   - instanceType: The type.
    ///   - availabilityZone: The zone.
    ///   - productDescription: The product.
    ///   - pricePerHour: USD per instance-hour.
    ///   - timestamp: When the price took effect.
    public init(instanceType: String, availabilityZone: String, productDescription: String, pricePerHour: Decimal,
                timestamp: Date) {
        self.instanceType = instanceType
        self.availabilityZone = availabilityZone
        self.productDescription = productDescription
        self.pricePerHour = pricePerHour
        self.timestamp = timestamp
    }
}

/// What `DescribeSpotPriceHistory` asks for.
public struct SpotPriceHistoryRequest: Sendable, Hashable {
    /// Only these instance types (empty: all).
    public var instanceTypes: [String]
    /// Only these products, for example `Linux/UNIX` (empty: all).
    public var productDescriptions: [String]
    /// Only this zone (nil: every zone of the region).
    public var availabilityZone: String?
    /// The start of the period (nil: AWS's default, which returns the current prices).
    public var startTime: Date?
    /// The end of the period (nil: now).
    public var endTime: Date?
    /// Points per page (nil: AWS's default, 1000).
    public var maxResults: Int?

    /// The Linux product description.
    public static let linuxUnix = "Linux/UNIX"

    /// Creates a request.
    /// - Parameters:
    ///   - instanceTypes: The types.
    ///   - productDescriptions: The products (default `Linux/UNIX`).
    ///   - availabilityZone: The zone, or nil.
    ///   - startTime: The period's start.
    ///   - endTime: The period's end.
    ///   - maxResults: Points per page.
    public init(instanceTypes: [String] = [], productDescriptions: [String] = [SpotPriceHistoryRequest.linuxUnix],
                availabilityZone: String? = nil, startTime: Date? = nil, endTime: Date? = nil, maxResults: Int? = nil) {
        self.instanceTypes = instanceTypes
        self.productDescriptions = productDescriptions
        self.availabilityZone = availabilityZone
        self.startTime = startTime
        self.endTime = endTime
        self.maxResults = maxResults
    }
}
