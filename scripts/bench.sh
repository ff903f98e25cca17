#!/usr/bin/env bash
# Speed figures from one run, each beside its baseline from the same run:
#   1. the 3x3 conv (im2col + sgemm) against bare sgemm of the same GEMM shapes, 1 and 2 BLAS threads;
#   2. training images/s of the `cpu` preset at 32x32: 1 rank x 1 thread, 1 rank x 2 threads, 2 ranks x
#      1 thread, with the share of step time spent reducing gradients against a bare MPI_Allreduce of the
#      same size, in deterministic (exact fixed-point) and fast (float) reduction.
# Usage: scripts/bench.sh [progan bench train flags, e.g. --steps 20 --resolution 16]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh >/dev/null
progan=.build/release/progan
mpirun=(mpirun -np 2 --bind-to core --map-by core -x OPENBLAS_NUM_THREADS=1)
((EUID == 0)) && mpirun+=(--allow-run-as-root)

echo "== conv"
OPENBLAS_NUM_THREADS=2 "$progan" bench conv --threads 1 2

echo
echo "== training step, cpu preset"
field() { sed -E "s/.*$1=([^ %]+).*/\1/" <<<"$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
for mode in true false; do
    one=$(OPENBLAS_NUM_THREADS=1 "$progan" bench train --deterministic $mode --threads 1 "$@")
    two_threads=$(OPENBLAS_NUM_THREADS=2 "$progan" bench train --deterministic $mode --threads 2 "$@")
    two_ranks=$("${mpirun[@]}" "$progan" bench train --deterministic $mode --threads 1 "$@")
    for line in "$one" "$two_threads" "$two_ranks"; do echo "$line"; done
    base=$(field images_per_second "$one")
    echo "deterministic=$mode: 1 rank x 2 threads = $(ratio "$(field images_per_second "$two_threads")" "$base")x," \
        "2 ranks x 1 thread = $(ratio "$(field images_per_second "$two_ranks")" "$base")x of 1 rank x 1 thread;" \
        "2-rank reduce share $(field reduce_share "$two_ranks")% (bare allreduce $(field bare_allreduce_ms "$two_ranks") ms)"
    eval "ranks_$mode=$(field images_per_second "$two_ranks")"
done
echo "deterministic mode: $(ratio "$ranks_true" "$ranks_false")x the images/s of fast mode on 2 ranks"
