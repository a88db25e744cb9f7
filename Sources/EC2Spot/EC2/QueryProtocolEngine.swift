import Foundation

/// The request machinery every AWS Query-protocol client shares (EC2, Auto Scaling): a
/// form-encoded POST signed with SigV4 for one service, retries per the ``RetryPolicy``, one
/// immediate resend after a clock-skew correction, redacted ``EC2Error``s, and the check that
/// the answer is the `<ActionResponse>` the action asked for.
///
/// The clients keep their public properties and build an engine per call, so copies of a
/// client share only what they shared before (the ``ClockSkewCorrection`` reference).
struct QueryProtocolEngine: Sendable {
    /// The SigV4 service name, for example `ec2` or `autoscaling`.
    var signingService: String
    var region: String
    var endpoint: URL
    var credentialsProvider: any CredentialsProvider
    var transport: any HTTPTransport
    var clock: EC2Clock
    var retryPolicy: RetryPolicy
    var requestTimeout: Duration
    var clockCorrection: ClockSkewCorrection

    /// Sends one Query-API action, retrying per ``retryPolicy``, and returns the parsed
    /// `<ActionResponse>` element.
    /// A clock-skew rejection is corrected and sent again once, immediately, without counting
    /// as an attempt; a second one gets the clock hint in its message.
    func send(_ query: EC2Query) async throws -> EC2XML.Element {
        var attempt = 1
        var correctedSkew: TimeInterval?
        while true {
            do {
                return try await sendOnce(query)
            } catch let error as EC2Error where error.clockSkew != nil && correctedSkew == nil {
                let skew = error.clockSkew ?? 0
                clockCorrection.adjust(by: skew)
                correctedSkew = skew
            } catch var error as EC2Error where correctedSkew != nil && ClockSkewCorrection.errorCodes.contains(error.code) {
                // Rejected again after the correction: say how far off the local clock is.
                error.message += (error.message.isEmpty ? "" : "; ")
                    + ClockSkewCorrection.hint(skew: clockCorrection.offset + (error.clockSkew ?? 0), retried: true)
                throw error
            } catch var error as EC2Error where ClockSkewCorrection.timeOnlyErrorCodes.contains(error.code) {
                error.message += (error.message.isEmpty ? "" : "; ")
                    + "AWS rejected the request's time: check that the local clock is right (NTP)"
                throw error
            } catch {
                guard attempt < retryPolicy.maxAttempts, retryPolicy.isRetryable(error) else { throw error }
                try await clock.sleep(retryPolicy.delay(beforeRetry: attempt))
                attempt += 1
            }
        }
    }

    private func sendOnce(_ query: EC2Query) async throws -> EC2XML.Element {
        guard let credentials = try await credentialsProvider.credentials() else {
            throw CredentialsError(provider: credentialsProvider.name, message: "no AWS credentials found")
        }
        SecretRedactor.register(credentials)
        let redactor = SecretRedactor(credentials: credentials)
        let request = HTTPRequest(
            method: "POST", url: endpoint,
            headers: ["content-type": "application/x-www-form-urlencoded; charset=utf-8",
                      "user-agent": "spottrain-ec2spot/\(EC2SpotLibrary.version)"],
            body: query.formBody, timeout: requestTimeout)
        let signer = SigV4Signer(credentials: credentials, region: region, service: signingService)
        let response: HTTPResponse
        do {
            response = try await transport.send(signer.sign(request, date: clockCorrection.correctedDate(clock.now())))
        } catch var error as TransportError {
            error.message = redactor.redact(error.message)
            throw error
        }
        guard (200...299).contains(response.status) else {
            var error = EC2Error.decode(from: response, redactor: redactor)
            error.clockSkew = ClockSkewCorrection.skew(code: error.code, dateHeader: response.headers["date"],
                                                       localNow: clockCorrection.correctedDate(clock.now()))
            throw error
        }
        let root: EC2XML.Element
        do {
            root = try EC2XML.parse(response.body)
        } catch {
            throw EC2Error(status: response.status, code: EC2Error.malformedResponseCode,
                           message: "\(query.action): response is not XML: "
                               + EC2Error.bodyExcerpt(response.body, redactor: redactor),
                           requestId: response.headers["x-amzn-requestid"].map { redactor.redact($0) })
        }
        if root.name == "Response" || root.name == "ErrorResponse" {
            throw EC2Error.decode(from: response, redactor: redactor)
        }
        guard root.name == query.action + "Response" else {
            let requestId = root.text("requestId") ?? root.text("ResponseMetadata", "RequestId")
            throw EC2Error(status: response.status, code: EC2Error.malformedResponseCode,
                           message: "\(query.action): expected <\(query.action)Response>, got <"
                               + String(redactor.redact(root.name).prefix(100)) + ">",
                           requestId: requestId.map { String(redactor.redact($0).prefix(200)) })
        }
        return root
    }

    /// Follows the pagination token through every page; stops with an error on a repeated
    /// token.
    /// - Parameters:
    ///   - query: The first page's request (`NextToken` is added for the others).
    ///   - nextToken: Reads the token of the next page from a response (nil: last page).
    ///   - items: Reads one page's items.
    func paginate<T>(_ query: EC2Query, nextToken: (EC2XML.Element) -> String?,
                     items: (EC2XML.Element) throws -> [T]) async throws -> [T] {
        var results: [T] = []
        var token: String?
        var seen: Set<String> = []
        repeat {
            var page = query
            page.set("NextToken", token)
            let root = try await send(page)
            results += try items(root)
            token = nextToken(root)
            if let token, !seen.insert(token).inserted {
                throw EC2Error(status: 200, code: EC2Error.malformedResponseCode,
                               message: "\(query.action): pagination repeated nextToken "
                                   + String(SecretRedactor.processWide.redact(token).prefix(200)))
            }
        } while token != nil
        return results
    }
}
