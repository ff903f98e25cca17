#!/usr/bin/env bash
# The main job. Until the model lands this runs the engine's self-check: the conv benchmark against
# bare sgemm.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
OPENBLAS_NUM_THREADS=1 .build/release/progan bench conv "$@"
