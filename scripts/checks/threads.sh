#!/usr/bin/env bash
# Threads do not change the bits: a short deterministic run through a resolution change gives
# byte-identical final checkpoints at --threads 1, 2 and 3, and on 2 ranks x 2 threads against 1 x 1.
# tiny's minibatch of 8 makes two micro-batches of 4, which a rank's threads run side by side; with
# --microbatch 8 there is one, whose kernels the threads share out instead. The networks are 64 maps wide,
# so that the engine cuts every conv, GEMM and pointwise op into several blocks; more threads than cores
# (oversubscribed) must change nothing but the time.
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"
mpirun=(mpirun --allow-run-as-root --oversubscribe)

"$progan" prepare "$emoji" --out "$work/set.pgds" --resolution 8 >/dev/null || fail "prepare failed"
echo '{"network": {"fmap_base": 512, "fmap_max": 64, "latent_size": 64}}' >"$work/wide.json"
# 4x4 for 6 steps, a fade-in to 8x8 over 6 steps, then 4 steps at 8x8: 16 steps of 8 images.
flags=(--dataset "$work/set.pgds" --preset tiny --config "$work/wide.json" --resolution 8 --stabilize-kimg 0.048
       --fade-kimg 0.048 --total-kimg 0.128 --tick-kimg 0.064 --deterministic)

for threads in 1 2 3; do
    "$progan" train "${flags[@]}" --threads $threads --out "$work/t$threads" >"$work/t$threads.log" 2>&1 ||
        fail "--threads $threads failed: $(tail -3 "$work/t$threads.log")"
    grep -q "1 rank x $threads thread" "$work/t$threads.log" ||
        fail "--threads $threads: not in the log: $(head -3 "$work/t$threads.log")"
done
for threads in 2 3; do
    cmp "$work/t1/checkpoints/final.ckpt" "$work/t$threads/checkpoints/final.ckpt" ||
        fail "--threads $threads and --threads 1 differ"
done
echo "1, 2 and 3 threads: byte-identical checkpoints"

for threads in 1 3; do
    "$progan" train "${flags[@]}" --microbatch 8 --threads $threads --out "$work/one-pass-t$threads" \
        >"$work/one-pass-t$threads.log" 2>&1 || fail "--microbatch 8 --threads $threads failed"
done
cmp "$work/one-pass-t1/checkpoints/final.ckpt" "$work/one-pass-t3/checkpoints/final.ckpt" ||
    fail "one pass per step: --threads 3 and --threads 1 differ"
echo "one pass per step, its kernels shared out: 1 and 3 threads byte-identical"

"${mpirun[@]}" -np 2 "$progan" train "${flags[@]}" --threads 2 --out "$work/r2t2" >"$work/r2t2.log" 2>&1 ||
    fail "2 ranks x 2 threads failed: $(tail -3 "$work/r2t2.log")"
cmp "$work/t1/checkpoints/final.ckpt" "$work/r2t2/checkpoints/final.ckpt" || fail "2 ranks x 2 threads and 1 x 1 differ"
echo "2 ranks x 2 threads and 1 x 1: byte-identical checkpoints"

# The setting is checked like any other.
expect_error "--threads 0" "threads 0 is out of range (1 to 4096)" \
    "$progan" train "${flags[@]}" --threads 0 --out "$work/zero"
