#!/usr/bin/env bash
# Recreate the peer-benchmark virtualenv with the versions these scripts were measured with.
# Usage: bash setup.sh [VENV_DIR]   (default /tmp/peers/venv)
# torch 2.15.0 from the package index is the CUDA build (it pulls ~3 GB of nvidia-* wheels);
# only its CPU code is used. The pin keeps pip from taking any other torch wheel that a
# local pip configuration (find-links) may offer.
set -euo pipefail
VENV=${1:-/tmp/peers/venv}
HERE=$(cd "$(dirname "$0")" && pwd)
rm -rf "$VENV"
python3 -m venv "$VENV"
"$VENV/bin/pip" install \
  tensorflow-cpu==2.21.0 \
  keras==3.15.1 \
  torch==2.15.0 \
  jax==0.10.2 jaxlib==0.10.2 \
  numpy==2.4.6 \
  threadpoolctl==3.8.0
# The full set that resolved on 2026-11-29 is in requirements.lock; to reproduce it exactly:
#   "$VENV/bin/pip" install -r "$HERE/requirements.lock"
"$VENV/bin/python" -c "import tensorflow, keras, torch, jax, numpy, threadpoolctl; print('tensorflow', tensorflow.__version__, 'keras', keras.__version__, 'torch', torch.__version__, 'jax', jax.__version__, 'numpy', numpy.__version__)"
