#!/usr/bin/env bash
# Make (or reuse) the venv with the pinned numpy and safetensors that the safetensors export
# check uses (Scripts/safetensors_forward.py, run by the spottrainTests suite), and print its
# interpreter's path:
#
#   export SPOTTRAIN_SAFETENSORS_PYTHON="$(Scripts/ci/safetensors-venv.sh)"
#
# The venv is ${SAFETENSORS_VENV:-/tmp/spottrain-safetensors-venv}; pip downloads the pins
# from PyPI when the venv does not already have them.
set -euo pipefail

VENV="${SAFETENSORS_VENV:-/tmp/spottrain-safetensors-venv}"
PY="${PYTHON:-python3}"
PINS=(numpy==2.4.6 safetensors==0.8.0)

log() { echo "safetensors-venv.sh: $*" >&2; }

if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating venv $VENV"
  "$PY" -m venv "$VENV"
fi
if ! "$VENV/bin/python" "$(dirname "$0")/venv_has_pins.py" "${PINS[@]}" >/dev/null 2>&1
then
  log "installing ${PINS[*]}"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PINS[@]}" >&2
fi
echo "$VENV/bin/python"
