#!/usr/bin/env python3
"""Generate the known-answer fixtures EC2Spot's tests compare against.

botocore is the reference implementation:

* ``sigv4_vectors.json``: for several requests (with and without a session token, a
  non-default port, different regions, bodies with characters that need percent-encoding,
  a signed ``x-amz-content-sha256``), the form body that botocore's ``percent_encode_sequence``
  produces, then botocore's ``SigV4Auth`` canonical request, string-to-sign and
  ``Authorization`` header at a fixed timestamp.
* ``ec2_query_requests.json``: the Query-API parameters botocore's EC2 serializer produces
  for the operations EC2Spot's client sends, so the client's parameter names can be checked
  against the service model rather than against our memory of it.

The keys below are made up; nothing here contacts the network.
Usage: python3 Scripts/sigv4_vectors.py   (rewrites Tests/EC2SpotTests/Fixtures/*.json)
"""
import datetime
import json
import os
import sys
from unittest import mock

import botocore
import botocore.auth
import botocore.session
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.serialize import create_serializer
from botocore.utils import percent_encode_sequence

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "Tests", "EC2SpotTests", "Fixtures")

FORM = "application/x-www-form-urlencoded; charset=utf-8"
KEY_ID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+session/token=="

# name, url, region, service, timestamp, session token, params (ordered), sign content hash
CASES = [
    ("describe-volumes-basic", "https://ec2.us-east-1.amazonaws.com/", "us-east-1", "ec2",
     "20240102T030405Z", None,
     [("Action", "DescribeVolumes"), ("Version", "2016-11-15")], False),
    ("create-volume-with-session-token", "https://ec2.eu-west-1.amazonaws.com/", "eu-west-1",
     "ec2", "20231231T235959Z", TOKEN,
     [("Action", "CreateVolume"), ("Version", "2016-11-15"), ("AvailabilityZone", "eu-west-1a"),
      ("Size", "100"), ("VolumeType", "gp3"), ("ClientToken", "spottrain-data-0001"),
      ("TagSpecification.1.ResourceType", "volume"),
      ("TagSpecification.1.Tag.1.Key", "spottrain:volume"),
      ("TagSpecification.1.Tag.1.Value", "data")], False),
    ("non-default-port-loopback", "http://127.0.0.1:5000/", "us-east-1", "ec2",
     "20240615T120000Z", None,
     [("Action", "DescribeVolumes"), ("Version", "2016-11-15"), ("VolumeId.1", "vol-0123456789abcdef0"),
      ("VolumeId.2", "vol-0fedcba9876543210")], False),
    ("percent-encoded-body", "https://ec2.ap-southeast-2.amazonaws.com/", "ap-southeast-2", "ec2",
     "20240229T000001Z", None,
     [("Action", "CreateTags"), ("Version", "2016-11-15"), ("ResourceId.1", "vol-0abc"),
      ("Tag.1.Key", "Name"), ("Tag.1.Value", "train data: MNIST & co/100% (größe=ü) ~_.-*+"),
      ("Tag.2.Key", "spottrain:note"), ("Tag.2.Value", "a=b&c=d; e,f 😀")], False),
    ("user-data-base64-with-token-and-port", "https://localhost:4566/", "us-west-2", "ec2",
     "20250101T101010Z", "short-token",
     [("Action", "RunInstances"), ("Version", "2016-11-15"), ("ImageId", "ami-12c6146b"),
      ("MinCount", "1"), ("MaxCount", "1"), ("UserData", "IyEvYmluL2Jhc2gKZWNobyBoaQo="),
      ("InstanceMarketOptions.MarketType", "spot")], False),
    ("signed-content-sha256", "https://ec2.us-east-1.amazonaws.com/", "us-east-1", "ec2",
     "20240102T030405Z", None,
     [("Action", "DescribeInstances"), ("Version", "2016-11-15"), ("Filter.1.Name", "instance-state-name"),
      ("Filter.1.Value.1", "running"), ("Filter.1.Value.2", "pending")], True),
    ("iam-global-service", "https://iam.amazonaws.com/", "us-east-1", "iam",
     "20240307T080910Z", None,
     [("Action", "CreateUser"), ("Version", "2010-05-08"), ("UserName", "spottrain-test")], False),
    ("empty-body-upper-case-host", "https://EC2.US-EAST-2.AMAZONAWS.COM/", "us-east-2", "ec2",
     "20240102T030405Z", None, [], False),
]


def sign_case(name, url, region, service, timestamp, token, params, sign_hash):
    body = percent_encode_sequence(params)
    headers = {"Content-Type": FORM}
    if sign_hash:
        import hashlib
        headers["X-Amz-Content-SHA256"] = hashlib.sha256(body.encode()).hexdigest()
    request = AWSRequest(method="POST", url=url, data=body.encode(), headers=headers)
    credentials = Credentials(KEY_ID, SECRET, token)
    signer = botocore.auth.SigV4Auth(credentials, service, region)
    fixed = datetime.datetime.strptime(timestamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    captured = {}
    original_cr = signer.canonical_request
    original_sts = signer.string_to_sign

    def canonical_request(req):
        captured["canonicalRequest"] = original_cr(req)
        return captured["canonicalRequest"]

    def string_to_sign(req, cr):
        captured["stringToSign"] = original_sts(req, cr)
        return captured["stringToSign"]

    signer.canonical_request = canonical_request
    signer.string_to_sign = string_to_sign
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=fixed):
        signer.add_auth(request)
    return {
        "name": name,
        "url": url,
        "region": region,
        "service": service,
        "amzDate": timestamp,
        "accessKeyId": KEY_ID,
        "secretAccessKey": SECRET,
        "sessionToken": token,
        "signContentSHA256": sign_hash,
        "parameters": [[k, v] for k, v in params],
        "body": body,
        "canonicalRequest": captured["canonicalRequest"],
        "stringToSign": captured["stringToSign"],
        "authorization": request.headers["Authorization"],
    }


# Swift tests call the client with the same inputs; see EC2QueryEncodingTests.swift.
EC2_OPERATIONS = [
    ("CreateVolume", {
        "AvailabilityZone": "us-east-1a", "Size": 50, "VolumeType": "gp3", "ClientToken": "tok-1",
        "Iops": 3000, "Throughput": 125, "Encrypted": True, "SnapshotId": "snap-0123",
        "TagSpecifications": [{"ResourceType": "volume", "Tags": [
            {"Key": "spottrain:volume", "Value": "data"}, {"Key": "Name", "Value": "spot data"}]}],
    }),
    ("AttachVolume", {"VolumeId": "vol-1", "InstanceId": "i-1", "Device": "/dev/xvdb"}),
    ("DetachVolume", {"VolumeId": "vol-1", "InstanceId": "i-1", "Force": True}),
    ("DeleteVolume", {"VolumeId": "vol-1"}),
    ("DescribeVolumes", {"VolumeIds": ["vol-1", "vol-2"],
                         "Filters": [{"Name": "tag:spottrain:volume", "Values": ["data"]},
                                     {"Name": "status", "Values": ["available", "in-use"]}],
                         "NextToken": "page-2"}),
    ("CreateTags", {"Resources": ["vol-1", "snap-1"],
                    "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": ""}]}),
    ("DescribeInstances", {"InstanceIds": ["i-1"],
                           "Filters": [{"Name": "instance-state-name", "Values": ["running"]}]}),
    ("RunInstances", {
        "ImageId": "ami-12c6146b", "InstanceType": "g5.xlarge", "MinCount": 1, "MaxCount": 1,
        "KeyName": "me", "SecurityGroupIds": ["sg-1", "sg-2"], "SubnetId": "subnet-1",
        "IamInstanceProfile": {"Name": "spottrain-role"}, "UserData": "IyEvYmluL3NoCg==",
        "Placement": {"AvailabilityZone": "us-east-1b"}, "ClientToken": "run-1",
        "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "trainer"}]}],
        "InstanceMarketOptions": {"MarketType": "spot", "SpotOptions": {
            "MaxPrice": "0.5", "SpotInstanceType": "one-time",
            "InstanceInterruptionBehavior": "terminate"}},
    }),
    # "Operation#variant": another request of the same operation (the fixture's name).
    ("RunInstances#persistent-metadata", {
        "ImageId": "ami-12c6146b", "InstanceType": "c7i.large", "MinCount": 1, "MaxCount": 1,
        "SubnetId": "subnet-2", "InstanceInitiatedShutdownBehavior": "stop", "ClientToken": "run-2",
        "MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 2,
                            "HttpEndpoint": "enabled", "HttpProtocolIpv6": "enabled"},
        "InstanceMarketOptions": {"MarketType": "spot", "SpotOptions": {
            "SpotInstanceType": "persistent", "InstanceInterruptionBehavior": "hibernate"}},
    }),
    ("TerminateInstances", {"InstanceIds": ["i-1", "i-2"]}),
    ("CreateSnapshot", {"VolumeId": "vol-1", "Description": "move data",
                        "TagSpecifications": [{"ResourceType": "snapshot",
                                               "Tags": [{"Key": "spottrain:volume", "Value": "data"}]}]}),
    ("DescribeSnapshots", {"SnapshotIds": ["snap-1"], "OwnerIds": ["self"]}),
    ("DescribeAvailabilityZones", {"ZoneNames": ["us-east-1a"]}),
]


def serialize_ec2():
    model = botocore.session.get_session().get_service_model("ec2")
    serializer = create_serializer("ec2")
    out = []
    for name, params in EC2_OPERATIONS:
        request = serializer.serialize_to_request(params, model.operation_model(name.split("#")[0]))
        body = request["body"]
        out.append({"operation": name, "parameters": {k: str(v) for k, v in body.items()}})
    return out


def main():
    os.makedirs(FIXTURES, exist_ok=True)
    vectors = {
        "generator": f"Scripts/sigv4_vectors.py with botocore {botocore.__version__}",
        "vectors": [sign_case(*case) for case in CASES],
    }
    requests = {
        "generator": f"Scripts/sigv4_vectors.py with botocore {botocore.__version__}",
        "operations": serialize_ec2(),
    }
    for filename, payload in (("sigv4_vectors.json", vectors), ("ec2_query_requests.json", requests)):
        with open(os.path.join(FIXTURES, filename), "w", encoding="utf-8") as handle:
            json.dump(payload, handle, indent=2, ensure_ascii=False, sort_keys=True)
            handle.write("\n")
    print(f"wrote {len(CASES)} signing vectors and {len(EC2_OPERATIONS)} EC2 requests to {FIXTURES}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
