#!/usr/bin/env bash
# Start or stop the moto servers (EC2, IAM, S3) the integration tests use (loopback only).
#
#   Scripts/ci/moto.sh start   # prints `export …` lines; eval them, or read the state files
#   Scripts/ci/moto.sh stop    # stops the servers by PID
#   Scripts/ci/moto.sh env     # prints the `export …` lines of running servers again
#
# Four servers are started from one pinned venv:
#   - the open one (SPOTTRAIN_MOTO_ENDPOINT) accepts any credentials;
#   - the auth one (SPOTTRAIN_MOTO_AUTH_ENDPOINT) is for the tests that switch moto's
#     signature checking on (POST /moto-api/reset-auth with body "0"), so they cannot
#     disturb tests running in parallel against the open one. It runs through
#     Scripts/ci/moto_raw_uri_server.py, which makes moto verify signatures against the
#     request target as sent: moto 5.2.1 otherwise checks against a percent-decoded URL and
#     refuses correctly signed S3 requests whose query has `%2F` (ListObjectsV2 prefix=run/).
#   - the S3 auth one (SPOTTRAIN_MOTO_S3_AUTH_ENDPOINT), the same but for the S3 tests, so that
#     the EC2 and S3 auth suites (which switch checking on and off) never overlap on a server.
#   - the store auth one (SPOTTRAIN_MOTO_STORE_AUTH_ENDPOINT), the same for the checkpoint-store
#     suite (SpotTrainS3Tests), which runs in parallel with the S3 client suite and also
#     switches checking on and off.
# All serve EC2, IAM and S3 (moto routes on the signature's credential scope).
# State (PIDs, URLs, logs) lives in ${SPOTTRAIN_MOTO_STATE:-/tmp/spottrain-moto}.
# The venv is ${MOTO_VENV:-/tmp/spottrain-moto-venv}; it reuses system site-packages when
# they already satisfy the pins, otherwise pip downloads them (PyPI only).
set -euo pipefail

STATE_DIR="${SPOTTRAIN_MOTO_STATE:-/tmp/spottrain-moto}"
VENV="${MOTO_VENV:-/tmp/spottrain-moto-venv}"
PY="${PYTHON:-python3}"
# Enough for moto's EC2/IAM/S3 server mode (the full moto[server] extra pulls in docker,
# cfn-lint and more, which EC2 does not need).
PINS=(moto==5.2.1 flask==3.1.3 flask-cors==6.0.2 werkzeug==3.1.8 boto3==1.43.11)

log() { echo "moto.sh: $*" >&2; }

ensure_venv() {
  if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating venv $VENV"
    "$PY" -m venv --system-site-packages "$VENV"
  fi
  if ! "$VENV/bin/python" "$(dirname "$0")/venv_has_pins.py" "${PINS[@]}" >/dev/null 2>&1
  then
    log "installing ${PINS[*]}"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PINS[@]}" >&2
  fi
}

free_port() {
  "$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_ready URL LOGFILE PID: until a real EC2 call (DescribeRegions via boto3) answers.
wait_ready() {
  local url="$1" logfile="$2" pid="$3"
  for _ in $(seq 1 150); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "moto exited early; log follows"; cat "$logfile" >&2; return 1
    fi
    if "$VENV/bin/python" - "$url" <<'PYREADY' >/dev/null 2>&1
import sys, boto3
from botocore.config import Config
ec2 = boto3.client("ec2", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing",
                   config=Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=5))
assert ec2.describe_regions()["Regions"]
PYREADY
    then return 0; fi
    sleep 0.2
  done
  log "moto at $url did not answer DescribeRegions in time; log follows"; cat "$logfile" >&2; return 1
}

start_one() {  # start_one NAME [LAUNCHER.py]: LAUNCHER takes moto.server's arguments
  local name="$1" launcher="${2:-}" port pid url
  port="$(free_port)"
  url="http://127.0.0.1:$port"
  # Own process group (setsid) so that `stop` can end it and any children it forks.
  if [[ -n "$launcher" ]]; then
    setsid "$VENV/bin/python" "$launcher" -H 127.0.0.1 -p "$port" >"$STATE_DIR/$name.log" 2>&1 < /dev/null &
  else
    setsid "$VENV/bin/python" -m moto.server -H 127.0.0.1 -p "$port" >"$STATE_DIR/$name.log" 2>&1 < /dev/null &
  fi
  pid=$!
  echo "$pid" >"$STATE_DIR/$name.pid"
  echo "$url" >"$STATE_DIR/$name.url"
  wait_ready "$url" "$STATE_DIR/$name.log" "$pid"
  log "$name ready at $url (pid $pid)"
}

print_env() {
  echo "export SPOTTRAIN_MOTO_ENDPOINT=$(cat "$STATE_DIR/moto.url")"
  echo "export SPOTTRAIN_MOTO_AUTH_ENDPOINT=$(cat "$STATE_DIR/moto-auth.url")"
  echo "export SPOTTRAIN_MOTO_S3_AUTH_ENDPOINT=$(cat "$STATE_DIR/moto-s3-auth.url")"
  echo "export SPOTTRAIN_MOTO_STORE_AUTH_ENDPOINT=$(cat "$STATE_DIR/moto-store-auth.url")"
  echo "export SPOTTRAIN_MOTO_PYTHON=$VENV/bin/python"
  # Loopback must never go through an HTTP proxy (the AWS transport honours *_proxy).
  echo "export no_proxy=127.0.0.1,localhost${no_proxy:+,$no_proxy}"
  echo "export NO_PROXY=127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}"
}

stop_one() {  # stop_one NAME
  local name="$1" pidfile="$STATE_DIR/$1.pid" pid
  [[ -f "$pidfile" ]] || return 0
  pid="$(cat "$pidfile")"
  if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true; fi
    log "stopped $name (pid $pid)"
  fi
  rm -f "$pidfile" "$STATE_DIR/$name.url"
}

case "${1:-}" in
  start)
    mkdir -p "$STATE_DIR"
    stop_one moto; stop_one moto-auth; stop_one moto-s3-auth; stop_one moto-store-auth
    ensure_venv
    start_one moto
    launcher="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/moto_raw_uri_server.py"
    start_one moto-auth "$launcher"
    start_one moto-s3-auth "$launcher"
    start_one moto-store-auth "$launcher"
    print_env
    ;;
  stop)
    stop_one moto; stop_one moto-auth; stop_one moto-s3-auth; stop_one moto-store-auth
    ;;
  env)
    print_env
    ;;
  *)
    echo "usage: $0 start|stop|env" >&2
    exit 64
    ;;
esac
