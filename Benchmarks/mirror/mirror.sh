#!/usr/bin/env bash
# Training throughput of `spottrain train` with an S3 checkpoint mirror against the same run
# without it, on moto's S3 (loopback), runs alternated. Not a test: it prints a table.
#
#   bash Benchmarks/mirror/mirror.sh      # from anywhere; starts (and stops) its own moto
#
# Settings (environment variables):
#   ROUNDS=3            rounds (each: one run without the mirror, one with it)
#   STEPS=300           global steps per run (batch 128, the full MNIST training set)
#   SAVE_EVERY=20       --save-every-steps (a 14 MB checkpoint every 20 steps, ~1.7 s)
#   THREADS=2           --threads
#   MNIST_DIR=...       the four *-ubyte.gz files (default: the first Data/mnist or shared/data/mnist up the tree)
#   SPOTTRAIN=...       a prebuilt spottrain binary (default: swift build -c release)
#   OUT=/tmp/spottrain-mirror/<UTC time>
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
ROUNDS=${ROUNDS:-3}
STEPS=${STEPS:-300}
SAVE_EVERY=${SAVE_EVERY:-20}
THREADS=${THREADS:-2}
OUT=${OUT:-/tmp/spottrain-mirror/$(date -u +%Y%m%dT%H%M%SZ)}
die() { echo "mirror.sh: $*" >&2; exit 1; }

if [[ -z "${MNIST_DIR:-}" ]]; then
  dir="$ROOT"
  while [[ "$dir" != "/" ]]; do
    if [[ -f "$dir/Data/mnist/train-images-idx3-ubyte.gz" ]]; then MNIST_DIR="$dir/Data/mnist"; break; fi
    if [[ -f "$dir/shared/data/mnist/train-images-idx3-ubyte.gz" ]]; then MNIST_DIR="$dir/shared/data/mnist"; break; fi
    dir=$(dirname "$dir")
  done
fi
[[ -n "${MNIST_DIR:-}" ]] || die "set MNIST_DIR to the folder with the MNIST *-ubyte.gz files"
if [[ -z "${SPOTTRAIN:-}" ]]; then
  (cd "$ROOT" && swift build -c release --product spottrain >&2)
  SPOTTRAIN="$ROOT/.build/release/spottrain"
fi
mkdir -p "$OUT"

export SPOTTRAIN_MOTO_STATE="$OUT/moto"
eval "$("$ROOT/Scripts/ci/moto.sh" start)"
trap '"$ROOT/Scripts/ci/moto.sh" stop >/dev/null 2>&1 || true' EXIT
PY="${MOTO_VENV:-/tmp/spottrain-moto-venv}/bin/python"
BUCKET="spottrain-bench-$(date +%s)"
"$PY" - "$SPOTTRAIN_MOTO_ENDPOINT" "$BUCKET" <<'PY'
import sys, boto3
boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="testing",
             aws_secret_access_key="testing").create_bucket(Bucket=sys.argv[2])
PY

export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
export AWS_ENDPOINT_URL_S3="$SPOTTRAIN_MOTO_ENDPOINT" AWS_EC2_METADATA_DISABLED=true
export AWS_SHARED_CREDENTIALS_FILE=/nonexistent AWS_CONFIG_FILE=/nonexistent

run() {  # run NAME ROUND [extra flags…]
  local name="$1" round="$2"; shift 2
  local dir="$OUT/$name-$round"
  "$SPOTTRAIN" train --data "$MNIST_DIR" --batch-size 128 --epochs 100 --max-steps "$STEPS" --test-limit 0 \
      --threads "$THREADS" --seed 1 --checkpoint-dir "$dir/ckpt" --save-every-steps "$SAVE_EVERY" --keep 2 \
      --summary "$dir.json" --quiet "$@" 2> "$dir.log" || die "$name round $round failed: $(tail -3 "$dir.log")"
}

for round in $(seq 1 "$ROUNDS"); do
  echo "mirror.sh: round $round of $ROUNDS" >&2
  run local "$round"
  run mirror "$round" --checkpoint-mirror "s3://$BUCKET/bench-$round"
done

python3 - "$OUT" "$ROUNDS" <<'PY'
import json, sys, statistics
out, rounds = sys.argv[1], int(sys.argv[2])
rows = []
for r in range(1, rounds + 1):
    a = json.load(open(f"{out}/local-{r}.json")); b = json.load(open(f"{out}/mirror-{r}.json"))
    rows.append((r, a["samples_per_second"], b["samples_per_second"], a["wall_seconds"], b["wall_seconds"],
                 b["uploads"], b["upload_failures"], a["checkpoints_saved"]))
print("| round | samples/s local | samples/s mirror | ratio | wall s local | wall s mirror | saves | uploads | upload failures |")
print("|---|---|---|---|---|---|---|---|---|")
for r, sa, sb, wa, wb, up, fail, saves in rows:
    print(f"| {r} | {sa:.0f} | {sb:.0f} | {sb / sa:.3f} | {wa:.1f} | {wb:.1f} | {saves} | {up} | {fail} |")
ma = statistics.median(x[1] for x in rows); mb = statistics.median(x[2] for x in rows)
wa = statistics.median(x[3] for x in rows); wb = statistics.median(x[4] for x in rows)
print(f"\nmedian samples/s: local {ma:.0f}, mirror {mb:.0f}, mirror/local {mb / ma:.3f}; "
      f"median wall s: local {wa:.1f}, mirror {wb:.1f} (+{100 * (wb / wa - 1):.1f} %)")
PY
echo "mirror.sh: outputs in $OUT" >&2
