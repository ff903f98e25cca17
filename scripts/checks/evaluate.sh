#!/usr/bin/env bash
# The paper's metrics from the CLI: SWD measured during a tiny run lands in the metrics log, and
# `progan evaluate` gives the same table on 1 and 2 ranks, with generated images further from the reals
# than the reals-vs-reals floor; bad arguments are one-line errors.
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"
set -e
mpirun=(mpirun -np 2 --bind-to core -x OPENBLAS_NUM_THREADS=1)
((EUID == 0)) && mpirun+=(--allow-run-as-root)

OPENBLAS_NUM_THREADS=1 "$progan" train --dataset "$emoji" --out "$work/run" --preset tiny --swd-ticks 4 --swd-images 32 >"$work/train.log"
checkpoint=$work/run/checkpoints/final.ckpt dataset=$work/run/dataset-16.pgds
# The tiny run reaches 16x16 at tick 5 of 12; SWD is measured every 4th tick from there on, and at the end.
measured=$(grep -Ec '"swd_16": ?[0-9]' "$work/run/metrics.jsonl")
((measured == 2)) || fail "expected SWD on ticks 8 and 12, found it on $measured ticks"
tick12=$(grep -E '"tick": ?12[,}]' "$work/run/metrics.jsonl")
grep -Eq '"swd_mean": ?[0-9.]+[,}]' <<<"$tick12" && grep -Eq '"ms_ssim": ?0\.' <<<"$tick12" ||
    fail "tick 12 lacks swd_mean or ms_ssim"
grep -q '^tick 12  swd_16 ' "$work/train.log" || fail "no SWD progress line"

"$progan" evaluate "$checkpoint" --dataset "$dataset" --images 64 --reals-vs-reals >"$work/one.txt"
# The 2-rank run uses the deprecated spelling: it still works, and only rank 0 warns.
"${mpirun[@]}" "$progan" evaluate --checkpoint "$checkpoint" --dataset "$dataset" --images 64 --reals-vs-reals \
    >"$work/two.txt" 2>"$work/two.err"
(($(grep -c '^warning: --checkpoint is deprecated' "$work/two.err") == 1)) ||
    fail "not one deprecation warning: $(cat "$work/two.err")"
cat "$work/one.txt"
diff "$work/one.txt" "$work/two.txt" || fail "1 and 2 ranks gave different metrics"
# 16 images on 2 ranks: the generator must still see them in one batch of 16, as on one rank (its output
# differs in the last bits between batches of 8 and 16, and SWD picks patches by a hash of the bits).
"$progan" evaluate "$checkpoint" --dataset "$dataset" --images 16 >"$work/one-16.txt"
"${mpirun[@]}" "$progan" evaluate "$checkpoint" --dataset "$dataset" --images 16 >"$work/two-16.txt"
diff "$work/one-16.txt" "$work/two-16.txt" || fail "1 and 2 ranks gave different metrics for 16 images"
generated=$(awk '/^generated vs reals/ { print $NF }' "$work/one.txt")
floor=$(awk '/^reals vs reals/ { print $NF }' "$work/one.txt")
awk -v g="$generated" -v f="$floor" 'BEGIN { exit !(g > 0 && f > 0 && g > f) }' || fail "generated SWD $generated is not above the floor $floor"
grep -q '^MS-SSIM over 32 pairs: generated 0\.[0-9]*, reals 0\.' "$work/one.txt" || fail "no MS-SSIM line"
"$progan" prepare "$emoji" --out "$work/small.pgds" --resolution 8 >/dev/null

set +e  # expect_error runs commands that fail

expect_error "odd image count" "--images must be an even number" "$progan" evaluate "$checkpoint" --dataset "$dataset" --images 7
expect_error "missing checkpoint" "$work/none.ckpt" "$progan" evaluate "$work/none.ckpt" --dataset "$dataset"
expect_error "nothing to measure" "--reals-vs-reals" "$progan" evaluate --dataset "$dataset"
expect_error "dataset below the generator's resolution" "not 16x16" "$progan" evaluate "$checkpoint" --dataset "$work/small.pgds"
expect_error "metrics below 16x16" "at least 16x16" "$progan" evaluate --reals-vs-reals --dataset "$work/small.pgds"
echo "evaluate: 1 and 2 ranks agree; generated $generated vs floor $floor"
