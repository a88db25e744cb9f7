#!/usr/bin/env bash
# Data-parallel throughput of `spottrain-mpi train`: 2 ranks x 1 thread against 1 rank x 1
# thread, same global batch, runs alternated; prints samples/s, the speed-up, and the time
# per step spent in the reduction (communication_seconds / steps, rank 0's view, which
# includes waiting for the slower rank), and the speed-up as the median of each round's
# 2-rank/1-rank ratio (the two runs of a round are back to back). Do not run it on a loaded
# machine.
#
#   bash Benchmarks/mpi/mpi.sh            # from anywhere; builds release first
#
# Settings (environment variables):
#   DATA=Data/mnist  LIMIT=12800  BATCH=128  ROUNDS=3  OUT=/tmp/spottrain-mpi-bench/<UTC time>
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
DATA="${DATA:-$root/Data/mnist}"
LIMIT="${LIMIT:-12800}"
BATCH="${BATCH:-128}"
ROUNDS="${ROUNDS:-3}"
OUT="${OUT:-/tmp/spottrain-mpi-bench/$(date -u +%Y%m%dT%H%M%SZ)}"
command -v mpirun >/dev/null || { echo "mpi.sh: mpirun not found (Debian: openmpi-bin)" >&2; exit 1; }
[ -e "$DATA/train-images-idx3-ubyte.gz" ] || [ -e "$DATA/train-images-idx3-ubyte" ] \
  || { echo "mpi.sh: no MNIST in $DATA (set DATA=…)" >&2; exit 1; }
swift build -c release --product spottrain-mpi >&2
bin="$(swift build -c release --show-bin-path)/spottrain-mpi"
mkdir -p "$OUT"
echo "mpi.sh: results in $OUT" >&2

run() { # ranks round
  local ranks=$1 round=$2 name="np$1-r$2"
  # One thread per rank; the ranks are bound to distinct cores by mpirun (--bind-to core).
  OPENBLAS_NUM_THREADS=1 mpirun --allow-run-as-root --bind-to core -np "$ranks" "$bin" train --data "$DATA" \
    --train-limit "$LIMIT" --test-limit 0 --batch-size "$BATCH" --epochs 1 --threads 1 --quiet \
    --summary "$OUT/$name.json" >"$OUT/$name.out" 2>&1
}
for round in $(seq 1 "$ROUNDS"); do
  if (( round % 2 )); then run 1 "$round"; run 2 "$round"; else run 2 "$round"; run 1 "$round"; fi
done

python3 - "$OUT" "$ROUNDS" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
def load(ranks):
    rows = [json.load(open(f"{out}/np{ranks}-r{r}.json")) for r in range(1, rounds + 1)]
    sps = [row["samples_per_second"] for row in rows]
    per_step = [row.get("communication_seconds", 0) / max(row["global_step"], 1) for row in rows]
    return statistics.median(sps), statistics.median(per_step), rows[0]["global_step"]
one, one_comm, steps = load(1)
two, two_comm, _ = load(2)
# Each round runs 1 and 2 ranks back to back: the ratio within a round cancels the slow drift
# of a shared host, so the median of the rounds' ratios is the figure to quote.
def sps(ranks, r):
    return json.load(open(f"{out}/np{ranks}-r{r}.json"))["samples_per_second"]
ratios = sorted(sps(2, r) / sps(1, r) for r in range(1, rounds + 1))
lines = [
    f"steps per run: {steps} (global batch from the summaries' run)",
    f"1 rank  x 1 thread: {one:8.1f} samples/s (median of {rounds}), reduction {one_comm * 1e3:.3f} ms/step",
    f"2 ranks x 1 thread: {two:8.1f} samples/s (median of {rounds}), reduction {two_comm * 1e3:.3f} ms/step",
    f"speed-up: {statistics.median(ratios):.2f}x (median of the rounds' ratios; range {ratios[0]:.2f}-{ratios[-1]:.2f}x)",
]
open(f"{out}/summary.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
