import Foundation

extension EC2Client {
    /// Reads the spot price history (`DescribeSpotPriceHistory`), following `NextToken`
    /// through every page.
    /// - Parameter request: The types, products, zone and period.
    /// - Returns: The price points, as AWS orders them (newest first per type and zone).
    /// - Throws: ``EC2Error`` (also for a point whose price or timestamp is not a valid
    ///   number or date: ``EC2Error/malformedResponseCode``), ``TransportError``.
    public func describeSpotPriceHistory(_ request: SpotPriceHistoryRequest) async throws -> [SpotPrice] {
        var query = EC2Query(action: "DescribeSpotPriceHistory")
        query.list("InstanceType", request.instanceTypes)
        query.list("ProductDescription", request.productDescriptions)
        query.set("AvailabilityZone", request.availabilityZone)
        query.set("StartTime", request.startTime.map(EC2Decoding.timestamp))
        query.set("EndTime", request.endTime.map(EC2Decoding.timestamp))
        query.set("MaxResults", request.maxResults)
        return try await paginate(query) { root in
            try root.items("spotPriceHistorySet").map(EC2Decoding.spotPrice)
        }
    }
}

extension EC2Decoding {
    /// `2024-01-02T03:04:05Z` (UTC, whole seconds), as the Query API expects timestamps.
    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    static func spotPrice(_ xml: EC2XML.Element) throws -> SpotPrice {
        let priceText = try xml.required("spotPrice")
        guard let price = Decimal(string: priceText, locale: Locale(identifier: "en_US_POSIX")),
              !price.isNaN, price >= 0,
              priceText.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }) else {
            throw EC2Error(status: 200, code: EC2Error.malformedResponseCode,
                           message: "spot price history: <spotPrice> is not a non-negative decimal: "
                               + String(SecretRedactor.processWide.redact(priceText).prefix(40)))
        }
        let timeText = try xml.required("timestamp")
        guard let timestamp = date(timeText) else {
            throw EC2Error(status: 200, code: EC2Error.malformedResponseCode,
                           message: "spot price history: <timestamp> is not an ISO 8601 date: "
                               + String(SecretRedactor.processWide.redact(timeText).prefix(40)))
        }
        return SpotPrice(instanceType: try xml.required("instanceType"),
                         availabilityZone: xml.text("availabilityZone") ?? "",
                         productDescription: xml.text("productDescription") ?? "",
                         pricePerHour: price, timestamp: timestamp)
    }
}
