#!/usr/bin/env bash
# SpotTrain vs PyTorch vs Keras 3 / TensorFlow on the mnist_cnn, on this machine, with the
# same thread count, runs alternated. Prints the ratios (see README.md for the method).
#
#   bash Benchmarks/compare/compare.sh            # from the repository root (or anywhere)
#
# Settings (environment variables):
#   THREADS=2          threads for every framework (peers: --threads; spottrain: --threads,
#                      and all of them pinned to the first THREADS cores if fewer than nproc)
#   ROUNDS=3           rounds of the steady-state throughput runs (all frameworks per round)
#   EPOCH_ROUNDS=1     rounds of the time-to-accuracy runs (full epochs, eval + checkpoint each)
#   MAX_EPOCHS=8       stop a time-to-accuracy run after this many epochs ...
#   TARGET_ACC=0.99    ... or as soon as an epoch's test accuracy reaches this
#   PHASES="blas steps epochs"   which parts to run
#   PEERS="torch keras_tf"       peers to run (keras_jax also works; it is ~8x slower)
#   VENV=/tmp/peers/venv         the peers' virtualenv (made by peers/setup.sh)
#   MNIST_DIR=...      folder with the four *-ubyte.gz files (default: the first
#                      Data/mnist or shared/data/mnist found walking up from this script)
#   SPOTTRAIN=...      a prebuilt spottrain binary (default: build it: swift build -c release)
#   OUT=/tmp/spottrain-compare/<UTC time>   where every output goes
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
EPOCH_ROUNDS=${EPOCH_ROUNDS:-1}
MAX_EPOCHS=${MAX_EPOCHS:-8}
TARGET_ACC=${TARGET_ACC:-0.99}
PHASES=${PHASES:-"blas steps epochs"}
PEERS=${PEERS:-"torch keras_tf"}
VENV=${VENV:-/tmp/peers/venv}
OUT=${OUT:-/tmp/spottrain-compare/$(date -u +%Y%m%dT%H%M%SZ)}
PY="$VENV/bin/python"

die() { echo "compare.sh: $*" >&2; exit 1; }

# --- Preconditions -----------------------------------------------------------------------
[[ $THREADS =~ ^[1-9][0-9]*$ ]] || die "THREADS must be a positive integer, got '$THREADS'"
# Only the modules of the peers asked for (PEERS="keras_tf" needs no torch).
modules=()
for peer in $PEERS; do
  case $peer in
    torch) modules+=(torch) ;;
    keras_tf) modules+=(keras tensorflow) ;;
    keras_jax) modules+=(keras jax) ;;
    *) die "unknown peer '$peer' in PEERS (torch, keras_tf, keras_jax)" ;;
  esac
done
imports=$(IFS=,; echo "${modules[*]}")
if [[ ! -x $PY ]] || ! "$PY" -c "import $imports" 2>/dev/null; then
  die "the peers' virtualenv is missing or incomplete at $VENV (needs $imports).
  Create it with:  bash $HERE/peers/setup.sh $VENV   (~4 min, ~7.3 GB from PyPI)
  or point VENV= at an existing one."
fi
[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time) is missing: apt-get install time"
command -v gcc >/dev/null || die "gcc is missing (needed for the sgemm peak)"
[[ -f /usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h || -f /usr/include/cblas.h ]] ||
  die "OpenBLAS headers are missing: apt-get install libopenblas-dev"

if [[ -z ${MNIST_DIR:-} ]]; then
  d=$HERE
  while [[ $d != / ]]; do
    if [[ -f $d/Data/mnist/train-images-idx3-ubyte.gz ]]; then MNIST_DIR=$d/Data/mnist; break; fi
    if [[ -f $d/shared/data/mnist/train-images-idx3-ubyte.gz ]]; then MNIST_DIR=$d/shared/data/mnist; break; fi
    d=$(dirname "$d")
  done
fi
[[ -n ${MNIST_DIR:-} && -f $MNIST_DIR/train-images-idx3-ubyte.gz ]] ||
  die "MNIST not found: set MNIST_DIR to the folder with train-images-idx3-ubyte.gz and the other three files"
export MNIST_DIR

mkdir -p "$OUT"
echo "compare.sh: writing to $OUT"

# --- Build -------------------------------------------------------------------------------
if [[ -z ${SPOTTRAIN:-} ]]; then
  echo "compare.sh: building spottrain (release) in $ROOT"
  (cd "$ROOT" && swift build -c release --product spottrain) > "$OUT/build-spottrain.log" 2>&1 ||
    die "swift build failed, see $OUT/build-spottrain.log"
  SPOTTRAIN=$ROOT/.build/release/spottrain
fi
[[ -x $SPOTTRAIN ]] || die "no spottrain binary at $SPOTTRAIN"
if [[ " $PHASES " == *" epochs "* ]]; then
  (cd "$HERE/.." && swift build -c release --product checkpoint-save-timing) > "$OUT/build-save-timing.log" 2>&1 ||
    die "building checkpoint-save-timing failed, see $OUT/build-save-timing.log"
  SAVE_TIMING=$HERE/../.build/release/checkpoint-save-timing
fi
gcc -O2 "$HERE/sgemm_peak.c" -I/usr/include/x86_64-linux-gnu/openblas-pthread -lopenblas -o "$OUT/sgemm_peak" ||
  die "compiling sgemm_peak.c failed"

# Pin to the first THREADS cores when that is fewer than the machine has (the peers'
# scripts pin themselves the same way).
PIN=()
if (( THREADS < $(nproc) )); then PIN=(taskset -c "0-$((THREADS - 1))"); fi

# --- Environment record ------------------------------------------------------------------
{
  echo "date=$(date -u +%FT%TZ) host=$(hostname) nproc=$(nproc) threads=$THREADS rounds=$ROUNDS epoch_rounds=$EPOCH_ROUNDS max_epochs=$MAX_EPOCHS target_acc=$TARGET_ACC"
  echo "cpu=\"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')\" mem_kb=$(grep MemTotal /proc/meminfo | awk '{print $2}')"
  echo "kernel=\"$(uname -sr)\" os=\"$(. /etc/os-release && echo "$PRETTY_NAME")\""
  echo "swift=\"$(swift --version 2>&1 | head -1)\""
  echo "openblas=\"$(dpkg-query -W -f '${Version}' libopenblas0-pthread 2>/dev/null || echo unknown)\""
  echo "spottrain=$SPOTTRAIN commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  "$PY" -c "
import importlib
found = []
for name in ('torch', 'tensorflow', 'keras', 'jax', 'numpy'):
    try:
        found.append(f'{name}={importlib.import_module(name).__version__}')
    except ImportError:
        pass
print(' '.join(found))" 2>/dev/null
  echo "load_begin=\"$(cut -d' ' -f1-3 /proc/loadavg)\""
} > "$OUT/environment.txt"
cat "$OUT/environment.txt"

# --- Helpers -----------------------------------------------------------------------------
note() { echo "### $(date -u +%FT%TZ) load=\"$(cut -d' ' -f1-3 /proc/loadavg)\" $*" >> "$OUT/runs.log"; }

# run NAME CMD...: one run under /usr/bin/time -v; stdout to NAME.out, stderr to NAME.err.
run() {
  local name=$1; shift
  echo "compare.sh: $name"
  note "begin $name: $*"
  /usr/bin/time -v -o "$OUT/$name.time" "$@" > "$OUT/$name.out" 2> "$OUT/$name.err" || note "exit $? $name"
  note "end $name"
}

# run_to_target NAME CHECK CMD...: like run, but stops the command (SIGTERM to the child
# of /usr/bin/time, which still reports its peak RSS) once `CHECK` says the target test
# accuracy was reached.
run_to_target() {
  local name=$1 kind=$2; shift 2
  echo "compare.sh: $name"
  note "begin $name: $*"
  /usr/bin/time -v -o "$OUT/$name.time" "$@" > "$OUT/$name.out" 2> "$OUT/$name.err" &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    if python3 "$HERE/summarize.py" --reached "$kind" "$OUT/$name" "$TARGET_ACC"; then
      note "target reached $name"
      local child
      for child in $(pgrep -P "$pid"); do kill -TERM "$child" 2>/dev/null || true; done
      break
    fi
    sleep 2
  done
  wait "$pid" || note "exit $? $name"
  note "end $name"
}

spottrain_steps() {  # 11 epochs of 10 steps: epoch 1 is the warm-up, epochs 2-11 the 100 timed steps
  local name=$1
  rm -f "$OUT/$name.jsonl"
  run "$name" "${PIN[@]}" "$SPOTTRAIN" train --data "$MNIST_DIR" --epochs 11 --train-limit 1280 --test-limit 1 \
    --batch-size 128 --threads "$THREADS" --seed 1 --quiet --metrics "$OUT/$name.jsonl" --summary "$OUT/$name.json"
}

peer_cmd() {  # peer_cmd PEER: the command line of a peer
  case $1 in
    torch) echo "$PY $HERE/peers/torch_cnn.py" ;;
    keras_tf) echo "env KERAS_BACKEND=tensorflow $PY $HERE/peers/keras_cnn.py" ;;
    keras_jax) echo "env KERAS_BACKEND=jax $PY $HERE/peers/keras_cnn.py" ;;
    *) die "unknown peer '$1' (torch, keras_tf, keras_jax)" ;;
  esac
}

# --- Phases ------------------------------------------------------------------------------
sgemm() {
  note "begin sgemm_$1"
  "${PIN[@]}" "$OUT/sgemm_peak" "$THREADS" 2 >> "$OUT/sgemm.out" 2>&1
  note "end sgemm_$1"
}

if [[ " $PHASES " == *" blas "* ]]; then sgemm begin; fi

if [[ " $PHASES " == *" steps "* ]]; then
  # Steady-state throughput. The order rotates each round so that no framework always runs
  # right after the same neighbour.
  names=(spottrain $PEERS)
  for ((r = 1; r <= ROUNDS; r++)); do
    for ((i = 0; i < ${#names[@]}; i++)); do
      fw=${names[$(((i + r - 1) % ${#names[@]}))]}
      if [[ $fw == spottrain ]]; then
        spottrain_steps "steps_spottrain_r$r"
      else
        # shellcheck disable=SC2046
        run "steps_${fw}_r$r" "${PIN[@]}" $(peer_cmd "$fw") --steps 100 --warmup 10 --threads "$THREADS" --ckpt-dir ""
      fi
    done
  done
fi

if [[ " $PHASES " == *" epochs "* ]]; then
  # Time to TARGET_ACC: full epochs on all 60,000 images, test accuracy on all 10,000 and a
  # checkpoint after every epoch.
  names=(spottrain $PEERS)
  for ((r = 1; r <= EPOCH_ROUNDS; r++)); do
    for fw in "${names[@]}"; do
      name="epochs_${fw}_r$r"
      rm -rf "$OUT/ckpt/$name"; mkdir -p "$OUT/ckpt/$name"
      if [[ $fw == spottrain ]]; then
        rm -f "$OUT/$name.jsonl"
        run_to_target "$name" spottrain "${PIN[@]}" "$SPOTTRAIN" train --data "$MNIST_DIR" --epochs "$MAX_EPOCHS" \
          --batch-size 128 --threads "$THREADS" --seed 1 --quiet --metrics "$OUT/$name.jsonl" --summary "$OUT/$name.json" \
          --checkpoint-dir "$OUT/ckpt/$name"
        # spottrain does not report its save times: time capture + durable save of the
        # newest checkpoint of this run, same file system, same threads.
        latest=$(find "$OUT/ckpt/$name" -maxdepth 1 -name 'ckpt-*' ! -name '*.tmp*' | sort | tail -1)
        if [[ -n $latest ]]; then
          "${PIN[@]}" "$SAVE_TIMING" "$latest" 5 "$THREADS" > "$OUT/$name.save" 2>&1 || note "exit $? save timing $name"
          ls -l "$OUT/ckpt/$name" >> "$OUT/$name.save"
        fi
      else
        # shellcheck disable=SC2046
        run_to_target "$name" peer "${PIN[@]}" $(peer_cmd "$fw") --epochs "$MAX_EPOCHS" --threads "$THREADS" \
          --ckpt-dir "$OUT/ckpt/$name"
      fi
    done
  done
fi

if [[ " $PHASES " == *" blas "* ]]; then sgemm end; fi
echo "load_end=\"$(cut -d' ' -f1-3 /proc/loadavg)\"" >> "$OUT/environment.txt"

python3 "$HERE/summarize.py" "$OUT" | tee "$OUT/summary.md"
