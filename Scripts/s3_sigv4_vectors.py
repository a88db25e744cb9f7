#!/usr/bin/env python3
"""Generate the S3 SigV4 known answers EC2Spot's S3 tests compare against.

botocore is the reference: ``S3SigV4Auth`` (S3: the path is signed exactly as sent, never
double-encoded; ``x-amz-content-sha256`` always set and signed) and, for contrast, plain
``SigV4Auth`` on a non-S3 service whose path needs encoding (every other service encodes
each path segment twice). URLs are built the way botocore's S3 serializer builds them:
the key with ``percent_encode(key, safe="/~")`` and the query with
``percent_encode_sequence`` (so ``prefix=run/`` travels as ``prefix=run%2F``).

The keys below are made up; nothing here contacts the network.
Usage: python3 Scripts/s3_sigv4_vectors.py
       (rewrites Tests/EC2SpotTests/Fixtures/s3_sigv4_vectors.json)
"""
import base64
import datetime
import hashlib
import json
import os
import sys
from unittest import mock

import botocore
import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode, percent_encode_sequence

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "Tests", "EC2SpotTests", "Fixtures", "s3_sigv4_vectors.json")

KEY_ID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+session/token=="


def url(base, key=None, query=()):
    """base + "/" + encoded key (slashes kept) + "?" + encoded query (botocore's rules)."""
    text = base
    if key is not None:
        text += "/" + percent_encode(key, safe="/~")
    elif not base.endswith("/"):
        text += "/"
    if query:
        parts = []
        for name, value in query:
            parts.append(percent_encode(name) if value is None else percent_encode_sequence([(name, value)]))
        text += "?" + "&".join(parts)
    return text


def md5_b64(data):
    return base64.b64encode(hashlib.md5(data).digest()).decode()


DELETE_XML = (b'<?xml version="1.0" encoding="UTF-8"?><Delete><Quiet>true</Quiet>'
              b"<Object><Key>run/ckpt-1.spt</Key></Object><Object><Key>run/a &amp; b</Key></Object></Delete>")
BODY = b"checkpoint bytes \x00\x01\xff"

# name, method, url, region, service, timestamp, token, headers, body
CASES = [
    ("put-object-path-style", "PUT",
     url("http://127.0.0.1:5000/spottrain-ckpt", "run/ckpt-000100.spt"), "us-east-1", "s3",
     "20240102T030405Z", None,
     {"Content-MD5": md5_b64(BODY), "Content-Type": "application/octet-stream"}, BODY),
    ("put-object-virtual-hosted-odd-key-with-token", "PUT",
     url("https://spottrain-ckpt.s3.eu-west-1.amazonaws.com",
         "run 1/größe+plus=eq&amp;~tilde*(x)/ckpt 2.spt"), "eu-west-1", "s3",
     "20231231T235959Z", TOKEN, {"Content-MD5": md5_b64(b"")}, b""),
    ("put-object-trailing-slash-and-double-slash", "PUT",
     url("https://s3.us-west-2.amazonaws.com/bucket.with.dots", "run//dir/"), "us-west-2", "s3",
     "20240615T120000Z", None, {}, b""),
    ("list-objects-v2-prefix-with-slash", "GET",
     url("http://127.0.0.1:5000/spottrain-ckpt", None,
         [("list-type", "2"), ("prefix", "run/"), ("continuation-token", "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="),
          ("max-keys", "1000")]), "us-east-1", "s3", "20240229T000001Z", None, {}, b""),
    ("get-object-range", "GET",
     url("https://spottrain-ckpt.s3.us-east-1.amazonaws.com", "run/ckpt-000100.spt"), "us-east-1", "s3",
     "20250101T101010Z", "short-token", {"Range": "bytes=0-1023"}, b""),
    ("delete-objects", "POST",
     url("https://spottrain-ckpt.s3.us-east-1.amazonaws.com", None, [("delete", None)]), "us-east-1", "s3",
     "20240307T080910Z", None,
     {"Content-MD5": md5_b64(DELETE_XML), "Content-Type": "application/xml"}, DELETE_XML),
    ("create-multipart-upload", "POST",
     url("http://localhost:4566/spottrain-ckpt", "run/ckpt-000200.spt", [("uploads", None)]),
     "us-east-1", "s3", "20240102T030405Z", None, {"Content-Type": "application/octet-stream"}, b""),
    ("upload-part", "PUT",
     url("http://localhost:4566/spottrain-ckpt", "run/ckpt-000200.spt",
         [("partNumber", "2"), ("uploadId", "VXBsb2FkIElE+/=")]),
     "us-east-1", "s3", "20240102T030405Z", None, {"Content-MD5": md5_b64(BODY)}, BODY),
    ("list-multipart-uploads", "GET",
     url("http://127.0.0.1:5000/spottrain-ckpt", None,
         [("uploads", None), ("prefix", "run/"), ("key-marker", "run/a b"), ("upload-id-marker", "x/y")]),
     "us-east-1", "s3", "20240102T030405Z", None, {}, b""),
    ("abort-multipart-upload", "DELETE",
     url("http://127.0.0.1:5000/spottrain-ckpt", "run/ckpt-000200.spt", [("uploadId", "abc~def")]),
     "us-east-1", "s3", "20240102T030405Z", None, {}, b""),
    # Not S3: every other service URI-encodes each path segment twice.
    ("non-s3-service-double-encodes-path", "GET",
     "https://example.execute-api.us-east-1.amazonaws.com/stage/a%20b/%C3%BC", "us-east-1", "execute-api",
     "20240102T030405Z", None, {}, b""),
]


def sign_case(name, method, request_url, region, service, timestamp, token, headers, body):
    request = AWSRequest(method=method, url=request_url, data=body, headers=dict(headers))
    credentials = Credentials(KEY_ID, SECRET, token)
    auth_class = botocore.auth.S3SigV4Auth if service == "s3" else botocore.auth.SigV4Auth
    signer = auth_class(credentials, service, region)
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
        "method": method,
        "url": request_url,
        "region": region,
        "service": service,
        "amzDate": timestamp,
        "accessKeyId": KEY_ID,
        "secretAccessKey": SECRET,
        "sessionToken": token,
        "headers": {k.lower(): v for k, v in headers.items()},
        "bodyBase64": base64.b64encode(body).decode(),
        "signContentSHA256": service == "s3",
        "contentSHA256": request.headers.get("X-Amz-Content-SHA256"),
        "canonicalRequest": captured["canonicalRequest"],
        "stringToSign": captured["stringToSign"],
        "authorization": request.headers["Authorization"],
    }


def main():
    payload = {
        "generator": f"Scripts/s3_sigv4_vectors.py with botocore {botocore.__version__}",
        "vectors": [sign_case(*case) for case in CASES],
    }
    with open(FIXTURE, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2, ensure_ascii=False, sort_keys=True)
        handle.write("\n")
    print(f"wrote {len(CASES)} S3 signing vectors to {FIXTURE}", file=sys.stderr)


if __name__ == "__main__":
    main()
