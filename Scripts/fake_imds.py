#!/usr/bin/env python3
"""A fake EC2 instance-metadata service (IMDSv2) for tests, on a loopback address.

Python 3 standard library only. Serves the IMDSv2 token flow and the metadata paths
SpotTrain uses, plus a control API for tests on the same port.

Usage:
    python3 Scripts/fake_imds.py --port 0 --port-file /tmp/imds.port [--exit-with-parent]

The chosen port is printed as the first line on stdout and, with --port-file, written
atomically to that file. Point clients at http://127.0.0.1:PORT (for example through
AWS_EC2_METADATA_SERVICE_ENDPOINT). SIGTERM and SIGINT shut the server down cleanly.

Metadata (IMDSv2 rules):
    PUT /latest/api/token             needs X-aws-ec2-metadata-token-ttl-seconds in 1..21600
                                      (400 otherwise); 403 if X-Forwarded-For is present
    GET /latest/meta-data/...         needs a valid, unexpired X-aws-ec2-metadata-token (401)
        instance-id, instance-type, placement/availability-zone, placement/region,
        spot/instance-action          404 until /_control/interrupt
        events/recommendations/rebalance  404 until /_control/rebalance
        iam/security-credentials/     the role name
        iam/security-credentials/ROLE the role's temporary credentials (JSON)

Control API (no token needed):
    POST /_control/interrupt      {"action": "terminate"|"stop"|"hibernate",
                                   "in_seconds": 120} or {"time": "2026-11-29T12:00:00Z"}
    POST /_control/rebalance      {} or {"notice_time": "..."}
    POST /_control/fail           {"count": N, "status": 500} or {"count": N, "hang_seconds": S}
                                  (the next N metadata/token requests fail or hang);
                                  optional "path_prefix" limits which requests count
    POST /_control/expire-tokens  every issued token becomes invalid
    POST /_control/reset          clears notices, failures, tokens and the log
    GET  /_control/state          JSON: notices, pending failures, token count, and when the
                                  interruption notice was first served (epoch seconds)
    GET  /_control/log            JSON list of {time, method, path, status}
"""

import argparse
import datetime
import json
import os
import secrets
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN_HEADER = "x-aws-ec2-metadata-token"
TTL_HEADER = "x-aws-ec2-metadata-token-ttl-seconds"
MAX_TTL = 21600
VALID_ACTIONS = ("terminate", "stop", "hibernate")


def iso8601(epoch_seconds):
    """Formats epoch seconds like IMDS does: 2026-11-29T12:00:00Z."""
    moment = datetime.datetime.fromtimestamp(int(epoch_seconds), tz=datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class State:
    """Everything the server knows, guarded by one lock."""

    def __init__(self, args):
        self.lock = threading.Lock()
        self.instance_id = args.instance_id
        self.instance_type = args.instance_type
        self.availability_zone = args.availability_zone
        self.region = args.region
        self.role_name = args.role_name
        self.reset()

    def reset(self):
        self.tokens = {}  # token -> expiry (monotonic seconds)
        self.instance_action = None  # {"action": ..., "time": ...}
        self.instance_action_first_served = None  # epoch seconds
        self.rebalance = None  # {"noticeTime": ...}
        self.failures = []  # list of {"remaining", "status", "hang_seconds", "path_prefix"}
        self.log = []
        self.token_requests = 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeIMDS/1.0"
    sys_version = ""

    # -- plumbing -------------------------------------------------------------------------

    @property
    def state(self):
        return self.server.state

    def log_message(self, format, *args):
        if not self.server.quiet:
            sys.stderr.write("fake_imds: %s %s\n" % (self.address_string(), format % args))

    def read_body(self):
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        try:
            count = int(length)
        except ValueError:
            return b""
        if count < 0 or count > 1 << 20:
            return b""
        return self.rfile.read(count)

    def reply(self, status, body=b"", content_type="text/plain"):
        if isinstance(body, str):
            body = body.encode("utf-8")
        with self.state.lock:
            self.state.log.append({"time": time.time(), "method": self.command,
                                   "path": self.path, "status": status})
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.close_connection = True

    def reply_json(self, status, value):
        self.reply(status, json.dumps(value), "application/json")

    def injected_failure(self):
        """Consumes one pending failure that applies to this request, if any."""
        with self.state.lock:
            for failure in self.state.failures:
                prefix = failure.get("path_prefix")
                if prefix and not self.path.startswith(prefix):
                    continue
                failure["remaining"] -= 1
                if failure["remaining"] <= 0:
                    self.state.failures.remove(failure)
                return dict(failure)
        return None

    def apply_failure(self):
        """Answers the request with an injected failure; returns True if it did."""
        failure = self.injected_failure()
        if failure is None:
            return False
        hang = failure.get("hang_seconds")
        if hang:
            time.sleep(float(hang))
        self.reply(int(failure.get("status") or 500), "injected failure\n")
        return True

    # -- methods --------------------------------------------------------------------------

    def do_PUT(self):
        self.read_body()
        if self.path != "/latest/api/token":
            self.reply(404, "404 - Not Found\n")
            return
        if self.apply_failure():
            return
        if self.headers.get("X-Forwarded-For") is not None:
            self.reply(403, "403 - Forbidden\n")
            return
        ttl_text = self.headers.get(TTL_HEADER)
        try:
            ttl = int(ttl_text) if ttl_text is not None else None
        except ValueError:
            ttl = None
        if ttl is None or not 1 <= ttl <= MAX_TTL:
            self.reply(400, "400 - Bad Request\n")
            return
        token = secrets.token_urlsafe(32)
        with self.state.lock:
            self.state.tokens[token] = time.monotonic() + ttl
            self.state.token_requests += 1
        with self.state.lock:
            self.state.log.append({"time": time.time(), "method": "PUT", "path": self.path, "status": 200})
        body = token.encode("ascii")
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header(TTL_HEADER, str(ttl))
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def do_GET(self):
        if self.path.startswith("/_control/"):
            self.control_get()
            return
        if not self.path.startswith("/latest/"):
            self.reply(404, "404 - Not Found\n")
            return
        if self.apply_failure():
            return
        token = self.headers.get(TOKEN_HEADER)
        with self.state.lock:
            expiry = self.state.tokens.get(token) if token else None
        if expiry is None or expiry <= time.monotonic():
            self.reply(401, "401 - Unauthorized\n")
            return
        self.metadata_get(self.path[len("/latest/meta-data/"):] if self.path.startswith("/latest/meta-data/") else None)

    def do_POST(self):
        body = self.read_body()
        if not self.path.startswith("/_control/"):
            self.reply(404, "404 - Not Found\n")
            return
        try:
            params = json.loads(body.decode("utf-8")) if body.strip() else {}
            if not isinstance(params, dict):
                raise ValueError("body must be a JSON object")
        except ValueError as error:
            self.reply(400, "bad JSON: %s\n" % error)
            return
        try:
            self.control_post(self.path[len("/_control/"):], params)
        except (KeyError, ValueError, TypeError) as error:
            self.reply(400, "bad control request: %s\n" % error)

    # -- metadata -------------------------------------------------------------------------

    def metadata_get(self, path):
        state = self.state
        if path == "instance-id":
            self.reply(200, state.instance_id)
        elif path == "instance-type":
            self.reply(200, state.instance_type)
        elif path == "placement/availability-zone":
            self.reply(200, state.availability_zone)
        elif path == "placement/region":
            self.reply(200, state.region)
        elif path == "spot/instance-action":
            with state.lock:
                notice = state.instance_action
                if notice is not None and state.instance_action_first_served is None:
                    state.instance_action_first_served = time.time()
            if notice is None:
                self.reply(404, "404 - Not Found\n")
            else:
                self.reply_json(200, notice)
        elif path == "events/recommendations/rebalance":
            with state.lock:
                notice = state.rebalance
            if notice is None:
                self.reply(404, "404 - Not Found\n")
            else:
                self.reply_json(200, notice)
        elif path == "iam/security-credentials/":
            self.reply(200, state.role_name)
        elif path == "iam/security-credentials/" + state.role_name:
            now = time.time()
            self.reply_json(200, {
                "Code": "Success",
                "LastUpdated": iso8601(now),
                "Type": "AWS-HMAC",
                "AccessKeyId": "ASIAFAKEIMDSEXAMPLE",
                "SecretAccessKey": "fakeImdsSecretKey/EXAMPLEKEY0000000000000",
                "Token": "fake-imds-session-token",
                "Expiration": iso8601(now + 6 * 3600),
            })
        else:
            self.reply(404, "404 - Not Found\n")

    # -- control --------------------------------------------------------------------------

    def control_get(self):
        state = self.state
        with state.lock:
            if self.path == "/_control/log":
                payload = list(state.log)
            elif self.path == "/_control/state":
                payload = {
                    "instance_action": state.instance_action,
                    "instance_action_first_served_at": state.instance_action_first_served,
                    "rebalance": state.rebalance,
                    "pending_failures": [dict(f) for f in state.failures],
                    "token_requests": state.token_requests,
                    "tokens": len(state.tokens),
                }
            else:
                payload = None
        if payload is None:
            self.reply(404, "unknown control path\n")
        else:
            self.reply_json(200, payload)

    def control_post(self, command, params):
        state = self.state
        if command == "interrupt":
            action = params.get("action", "terminate")
            if action not in VALID_ACTIONS:
                raise ValueError("action must be one of %s" % ", ".join(VALID_ACTIONS))
            if "time" in params:
                when = str(params["time"])
            else:
                when = iso8601(time.time() + float(params.get("in_seconds", 120)))
            with state.lock:
                state.instance_action = {"action": action, "time": when}
                state.instance_action_first_served = None
            self.reply_json(200, {"action": action, "time": when})
        elif command == "rebalance":
            when = str(params.get("notice_time") or iso8601(time.time()))
            with state.lock:
                state.rebalance = {"noticeTime": when}
            self.reply_json(200, {"noticeTime": when})
        elif command == "fail":
            count = int(params.get("count", 1))
            if count < 1:
                raise ValueError("count must be positive")
            failure = {"remaining": count, "status": int(params.get("status", 500)),
                       "hang_seconds": float(params.get("hang_seconds", 0)),
                       "path_prefix": params.get("path_prefix")}
            with state.lock:
                state.failures.append(failure)
            self.reply_json(200, failure)
        elif command == "expire-tokens":
            with state.lock:
                expired = len(state.tokens)
                state.tokens.clear()
            self.reply_json(200, {"expired": expired})
        elif command == "reset":
            with state.lock:
                state.reset()
            self.reply_json(200, {"reset": True})
        else:
            self.reply(404, "unknown control command\n")


def main():
    parser = argparse.ArgumentParser(description="Fake IMDSv2 server for tests (loopback only).")
    parser.add_argument("--host", default="127.0.0.1", choices=["127.0.0.1", "::1", "localhost"])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", help="write the chosen port to this file (atomically)")
    parser.add_argument("--instance-id", default="i-0fake00000000imds")
    parser.add_argument("--instance-type", default="t3.micro")
    parser.add_argument("--availability-zone", default="us-east-1a")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--role-name", default="spottrain-test-role")
    parser.add_argument("--quiet", action="store_true", help="do not log requests to stderr")
    parser.add_argument("--exit-with-parent", action="store_true",
                        help="shut down when the parent process exits (no orphans after a crash)")
    args = parser.parse_args()

    server_class = ThreadingHTTPServer
    if ":" in args.host:
        import socket

        class IPv6Server(ThreadingHTTPServer):
            address_family = socket.AF_INET6
        server_class = IPv6Server
    server = server_class((args.host, args.port), Handler)
    server.daemon_threads = True
    server.state = State(args)
    server.quiet = args.quiet
    port = server.server_address[1]

    stopping = threading.Event()

    def stop(*_):
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # A parent that spawns us from a thread with signals blocked (libdispatch worker threads
    # do, and Foundation's Process passes the mask on) would leave SIGTERM blocked forever.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})

    if args.exit_with_parent:
        parent = os.getppid()

        def watch_parent():
            while not stopping.is_set():
                if os.getppid() != parent:
                    sys.stderr.write("fake_imds: parent %d exited, shutting down\n" % parent)
                    stop()
                    return
                time.sleep(0.2)
        threading.Thread(target=watch_parent, daemon=True).start()

    if args.port_file:
        temporary = args.port_file + ".tmp"
        with open(temporary, "w") as handle:
            handle.write("%d\n" % port)
        os.replace(temporary, args.port_file)
    sys.stdout.write("%d\n" % port)
    sys.stdout.flush()
    sys.stderr.write("fake_imds: serving IMDSv2 on http://%s:%d\n" % (
        "[%s]" % args.host if ":" in args.host else args.host, port))

    try:
        server.serve_forever(poll_interval=0.05)
    finally:
        server.server_close()
        sys.stderr.write("fake_imds: stopped\n")


if __name__ == "__main__":
    main()
