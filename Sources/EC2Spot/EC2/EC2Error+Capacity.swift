import Foundation

extension EC2Error {
    /// Error codes with which `RunInstances` says this instance type, Availability Zone or
    /// subnet has no room for the request right now, so that another type or subnet may
    /// succeed at once while a retry of the same request would not:
    /// - `InsufficientInstanceCapacity`: no on-demand or spot capacity of the type in the zone;
    /// - `InsufficientCapacity`, `UnfulfillableCapacity`: not enough spare (spot) capacity;
    /// - `SpotMaxPriceTooLow`: the type's spot price is above the request's maximum price;
    /// - `InsufficientFreeAddressesInSubnet`: the subnet has no free IP address;
    /// - `Unsupported`: the type is not offered in the requested zone.
    ///
    /// Account limits (`MaxSpotInstanceCountExceeded`, `VcpuLimitExceeded`,
    /// `InstanceLimitExceeded`) are not here: another type or subnet does not help with them.
    public static let capacityShortageCodes: Set<String> = [
        "InsufficientInstanceCapacity", "InsufficientCapacity", "UnfulfillableCapacity",
        "SpotMaxPriceTooLow", "InsufficientFreeAddressesInSubnet", "Unsupported",
    ]

    /// Whether the error is one of ``capacityShortageCodes``: try the next instance type or
    /// subnet instead of sending the same request again.
    public var isCapacityShortage: Bool { Self.capacityShortageCodes.contains(code) }
}
