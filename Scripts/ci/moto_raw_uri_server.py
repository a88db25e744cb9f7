#!/usr/bin/env python3
"""Start moto's server with one test-only fix to its signature check: verify against the
request target exactly as the client sent it.

Why: with signature checking on, moto 5.2.1 rebuilds the URL it verifies a SigV4 signature
against from Werkzeug's ``request.url``, an IRI in which percent-escapes have been decoded
(``prefix=run%2F`` becomes ``prefix=run/``, ``%C3%BC`` becomes ``ü``). S3 signs the query
(and the path) in their canonical, percent-encoded form, so moto recomputes a different
canonical request and refuses a correctly signed ``ListObjectsV2`` with ``prefix=run/`` as
``SignatureDoesNotMatch``; boto3 is refused the same way. Real S3 verifies the canonical
encoding, so the client's signer must not be bent to moto. Instead this launcher hands moto
the raw request target (``RAW_URI``/``REQUEST_URI`` from the WSGI environment, as received)
for the duration of the signature check only; everything else moto does is unchanged.

Usage (as moto.sh starts it): python moto_raw_uri_server.py -H 127.0.0.1 -p PORT
"""
import functools
import sys
from urllib.parse import urlsplit, urlunsplit

from moto.core.authorization import ActionAuthenticatorMixin

_original = ActionAuthenticatorMixin._authenticate_and_authorize_action


@functools.wraps(_original)
def _authenticate_with_raw_target(self, *args, **kwargs):
    try:
        from flask import has_request_context, request
    except ImportError:  # pragma: no cover - moto's server always has flask
        return _original(self, *args, **kwargs)
    if not has_request_context():
        return _original(self, *args, **kwargs)
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    uri = getattr(self, "uri", None)
    if not raw or not uri:
        return _original(self, *args, **kwargs)
    target = urlsplit(raw)
    current = urlsplit(uri)
    self.uri = urlunsplit((current.scheme, current.netloc, target.path, target.query, ""))
    try:
        return _original(self, *args, **kwargs)
    finally:
        self.uri = uri


ActionAuthenticatorMixin._authenticate_and_authorize_action = _authenticate_with_raw_target

if __name__ == "__main__":
    from moto.server import main

    sys.exit(main(sys.argv[1:]))
