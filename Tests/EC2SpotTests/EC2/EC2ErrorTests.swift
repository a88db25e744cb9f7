import EC2Spot
import Foundation
import Testing

@Suite struct EC2ErrorTests {
    func failure(status: Int, body: String, headers: [String: String] = [:]) async -> EC2Error? {
        let transport = ScriptedEC2Transport()
        transport.enqueue(.response(HTTPResponse(status: status, headers: headers, body: Data(body.utf8))))
        let client = EC2TestClient.make(transport, retry: .none)
        return await #expect(throws: EC2Error.self) { try await client.deleteVolume(volumeId: "vol-1") }
    }

    @Test func decodesEC2ResponseErrorsEnvelope() async {
        let error = await failure(status: 400, body: EC2XMLBodies.ec2Error(
            code: "InvalidVolume.NotFound", message: "The volume 'vol-1' does not exist."))
        #expect(error == EC2Error(status: 400, code: "InvalidVolume.NotFound",
                                  message: "The volume 'vol-1' does not exist.",
                                  requestId: "ea966190-f9aa-478e-9ede-example"))
    }

    @Test func decodesErrorResponseEnvelope() async {
        let error = await failure(status: 403, body: EC2XMLBodies.errorResponse(
            code: "SignatureDoesNotMatch", message: "The request signature we calculated does not match."))
        #expect(error?.code == "SignatureDoesNotMatch")
        #expect(error?.status == 403)
        #expect(error?.requestId == "4a0b2c9f-1d2e-example")
    }

    @Test func nonXMLBodyBecomesHTTPStatusError() async {
        let error = await failure(status: 502, body: "<html><body>\nBad Gateway\n</body></html",
                                  headers: ["x-amzn-RequestId": "rid-7"])
        #expect(error?.code == "HTTP502")
        #expect(error?.status == 502)
        #expect(error?.message.contains("Bad Gateway") == true)
        #expect(error?.requestId == "rid-7")
    }

    @Test func emptyBodyIsDescribed() async {
        let error = await failure(status: 401, body: "")
        #expect(error?.code == "HTTP401")
        #expect(error?.message == "empty response body")
    }

    @Test func successStatusWithGarbageIsMalformed() async {
        let error = await failure(status: 200, body: "not xml at all")
        #expect(error?.code == EC2Error.malformedResponseCode)
        #expect(error?.status == 200)
    }

    @Test func successStatusWithErrorEnvelopeIsAnError() async {
        let error = await failure(status: 200, body: EC2XMLBodies.ec2Error(code: "InternalError", message: "oops"))
        #expect(error?.code == "InternalError")
    }

    @Test func unexpectedRootElementIsMalformed() async {
        let error = await failure(status: 200, body: EC2XMLBodies.returnTrue("CreateTags"))
        #expect(error?.code == EC2Error.malformedResponseCode)
        #expect(error?.message.contains("DeleteVolumeResponse") == true)
    }

    @Test func descriptionCarriesCodeStatusAndRequest() {
        let error = EC2Error(status: 400, code: "IncorrectState", message: "busy", requestId: "r-1")
        #expect(error.description == "IncorrectState (HTTP 400): busy [request r-1]")
    }
}
