#!/usr/bin/env bash
# Data parallelism end to end: 2 ranks with global minibatch 8 give the same bits as 1 process (2 BLAS
# threads) with minibatch 8 after 20 steps through a resolution change, and so do 1, 2 and 4 ranks with
# minibatch 16; a failing rank
# (unreadable data, or NaN) ends the job within 10 s, named.
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"
mpirun=(mpirun --allow-run-as-root --oversubscribe -x OPENBLAS_NUM_THREADS=1)

"$progan" prepare "$emoji" --out "$work/set.pgds" --resolution 8 >/dev/null || fail "prepare failed"
# 4x4 for 8 steps, a fade-in to 8x8 over 8 steps, then 4 steps at 8x8: 20 steps of 8 images.
flags=(--dataset "$work/set.pgds" --preset tiny --resolution 8 --stabilize-kimg 0.064 --fade-kimg 0.064
       --total-kimg 0.16 --tick-kimg 0.04)

"$progan" train "${flags[@]}" --out "$work/one" >/dev/null || fail "1-process run failed"
"${mpirun[@]}" -np 2 "$progan" train "${flags[@]}" --out "$work/two" >/dev/null || fail "2-rank run failed"
"$progan" inspect "$work/one/checkpoints/final.ckpt" --compare "$work/two/checkpoints/final.ckpt" \
    --tolerance 1e-5 || fail "2 ranks drifted from 1 process"
cmp "$work/one/checkpoints/final.ckpt" "$work/two/checkpoints/final.ckpt" || fail "deterministic mode: 2 ranks and 1 process differ"
# Fast (float) reduction: the same up to rounding, which Adam amplifies: right after a reset its step is
# about lr·sign(g), so a gradient component near zero whose sign differs by rounding moves its weight by
# 2·lr. Seen here: 3e-2 of a section's scale after 20 steps; a reduction that forgot to average would be
# off by more than the whole scale.
OPENBLAS_NUM_THREADS=1 "$progan" train "${flags[@]}" --no-deterministic --out "$work/fast1" >/dev/null || fail "fast 1-process run failed"
"${mpirun[@]}" -np 2 "$progan" train "${flags[@]}" --no-deterministic --out "$work/fast2" >/dev/null || fail "fast 2-rank run failed"
"$progan" inspect "$work/fast1/checkpoints/final.ckpt" --compare "$work/fast2/checkpoints/final.ckpt" \
    --tolerance 0.1 | tail -1 || fail "fast mode: 2 ranks drifted from 1 process"
for ranks in 1 2 4; do
    "${mpirun[@]}" -np $ranks "$progan" train "${flags[@]}" --minibatch 16 --out "$work/ranks$ranks" >/dev/null ||
        fail "$ranks-rank run failed"
done
cmp "$work/ranks1/checkpoints/final.ckpt" "$work/ranks2/checkpoints/final.ckpt" || fail "1 and 2 ranks differ"
cmp "$work/ranks1/checkpoints/final.ckpt" "$work/ranks4/checkpoints/final.ckpt" || fail "1 and 4 ranks differ"
echo "1, 2 and 4 ranks: byte-identical checkpoints"
# 3 ranks take 4 of each 12 images: the same bits as 1 process means the same samples, each once per
# epoch (the epoch order itself is covered by TrainerTests).
for ranks in 1 3; do
    "${mpirun[@]}" -np $ranks "$progan" train "${flags[@]}" --minibatch 12 --out "$work/twelve$ranks" >/dev/null ||
        fail "$ranks-rank run with minibatch 12 failed"
done
cmp "$work/twelve1/checkpoints/final.ckpt" "$work/twelve3/checkpoints/final.ckpt" || fail "1 and 3 ranks differ"
echo "1 and 3 ranks: byte-identical checkpoints"


# expect_rank_failure DESCRIPTION EXPECTED-TEXT RANK1-FLAGS...: rank 0 runs normally, rank 1 with its own flags.
expect_rank_failure() {
    local description=$1 expected=$2 output status started=$SECONDS
    shift 2
    output=$(timeout 30 "${mpirun[@]}" -np 1 "$progan" train "${flags[@]}" --out "$work/fail0" \
        : -np 1 "$progan" train "${flags[@]}" --out "$work/fail1" "$@" 2>&1)
    status=$?
    ((status != 0 && status != 124)) || fail "$description: exit status $status"
    ((SECONDS - started <= 10)) || fail "$description: took $((SECONDS - started)) s"
    grep -qF "[rank 1] " <<<"$output" || fail "$description: no message from rank 1: $output"
    grep -qF "$expected" <<<"$output" || fail "$description: no '$expected' in: $output"
    echo "$description: stopped in $((SECONDS - started)) s: $(grep -F '[rank 1] ' <<<"$output" | head -1)"
}
expect_rank_failure "unreadable data on rank 1" "missing.pgds" --dataset "$work/missing.pgds"
# A gradient-penalty target of 1e-30 squares to zero in float: rank 1's penalty is not finite at once.
echo '{"loss": {"gp_target": 1e-30}}' >"$work/diverge.json"
expect_rank_failure "NaN on rank 1" "not finite" --config "$work/diverge.json"
echo '{"network": {"fmap_max": 8}}' >"$work/narrow.json"
expect_rank_failure "other network on rank 1" "differ from rank 0's: here 'g.4x4.dense.weight" --config "$work/narrow.json"

# Drift: rank 1 updates with a slightly different learning rate; the consistency check (every 10 steps
# in `tiny`) stops the job.
output=$(timeout 30 "${mpirun[@]}" -np 1 "$progan" train "${flags[@]}" --out "$work/drift0" \
    : -np 1 "$progan" train "${flags[@]}" --out "$work/drift1" --learning-rate 0.00201 2>&1)
(($? != 0)) || fail "drift: the job succeeded"
grep -q "replicas diverged by step 10: the weights or counters of rank 1 differ from rank 0's" <<<"$output" ||
    fail "drift: no divergence message: $output"
echo "drift on rank 1: stopped at the step-10 consistency check"
