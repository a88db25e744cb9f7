#!/usr/bin/env python3
"""A loopback HTTP proxy in front of moto that records who sent which EC2 action.

    ec2_action_proxy.py UPSTREAM LOG [CODE,CODE,…]

Listens on 127.0.0.1 (a free port, printed as the first line of standard output), forwards
every request unchanged to UPSTREAM (http://127.0.0.1:PORT) and appends one line per Query
request to LOG: "<access key id> <Action>". The access key id (from the SigV4 Authorization
header) names the caller: the IAM test runs the operator's commands with one key and the
instance role's with another. With CODEs, the first RunInstances requests (one per code) are
answered with that EC2 error (HTTP 500 for InsufficientInstanceCapacity, else 400) instead of
being forwarded, the way EC2 reports a capacity shortage. Used by IAMPolicyCoverageTests and
EC2LaunchSpotCLITests.
"""
import http.client
import http.server
import re
import sys
import threading
import urllib.parse

UPSTREAM = urllib.parse.urlsplit(sys.argv[1])
LOG = sys.argv[2]
LOCK = threading.Lock()
FAILURES = [code for code in (sys.argv[3] if len(sys.argv) > 3 else "").split(",") if code]


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace")) if body else {}
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        action = (form.get("Action") or query.get("Action") or [""])[0]
        match = re.search(r"Credential=([^/,\s]+)/", self.headers.get("Authorization", ""))
        if action:
            with LOCK, open(LOG, "a", encoding="utf-8") as log:
                log.write(f"{match.group(1) if match else '-'} {action}\n")
        if action == "RunInstances":
            with LOCK:
                code = FAILURES.pop(0) if FAILURES else None
            if code:
                data = (f"<Response><Errors><Error><Code>{code}</Code><Message>injected {code}</Message>"
                        f"</Error></Errors><RequestID>proxy-{code}</RequestID></Response>").encode()
                self.send_response(500 if code == "InsufficientInstanceCapacity" else 400)
                self.send_header("Content-Type", "text/xml;charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
        connection = http.client.HTTPConnection(UPSTREAM.hostname, UPSTREAM.port, timeout=120)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
        connection.request(self.command, self.path, body=body, headers=headers)
        reply = connection.getresponse()
        data = reply.read()
        self.send_response(reply.status, reply.reason)
        for key, value in reply.getheaders():
            if key.lower() not in ("connection", "keep-alive", "transfer-encoding", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        connection.close()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = forward


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
print(server.server_address[1], flush=True)
server.serve_forever()
