#!/usr/bin/env bash
# Scaling without a rank ceiling: 1, 2, 4 and 8 ranks (oversubscribed) give byte-identical checkpoints
# through a resolution change, with 8x8 phases of fewer micro-batches than ranks (idle ranks); the
# `paper` preset (its minibatch and learning-rate tables, on small networks at 8x8) trains 3 steps on 8
# ranks and 1 alike; `scripts/train.sh --dry-run` plans for 1, 3, 8 and 64 cores; impossible layouts
# are one-line errors naming the phase or the cores and the nearest valid layouts.
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"
mpirun=(mpirun --allow-run-as-root --oversubscribe --bind-to none -x OPENBLAS_NUM_THREADS=1)

"$progan" prepare "$emoji" --out "$work/set.pgds" --resolution 8 >/dev/null || fail "prepare failed"
# 4x4: 4 steps of 16 images (4 micro-batches of 4); 8x8: 12 steps of 8 (2 micro-batches), so 8 ranks
# leave 4 idle at 4x4 and 6 at 8x8, and 4 ranks leave 2 idle at 8x8.
echo '{"schedule": {"minibatch": {"4": 16}, "minibatch_default": 8}}' >"$work/batches.json"
flags=(--dataset "$work/set.pgds" --preset tiny --config "$work/batches.json" --resolution 8
       --stabilize-kimg 0.064 --fade-kimg 0.064 --total-kimg 0.16 --tick-kimg 0.04)
for ranks in 1 2 4 8; do
    "${mpirun[@]}" -np $ranks "$progan" train "${flags[@]}" --out "$work/ranks$ranks" >"$work/log$ranks" 2>&1 ||
        fail "$ranks-rank run failed: $(tail -3 "$work/log$ranks")"
done
grep -q "note: phases with fewer micro-batches than ranks leave ranks idle .* 4x4: 4, 8x8: 6" "$work/log8" ||
    fail "8 ranks: no note about idle ranks: $(cat "$work/log8")"
for ranks in 2 4 8; do
    cmp "$work/ranks1/checkpoints/final.ckpt" "$work/ranks$ranks/checkpoints/final.ckpt" || fail "1 and $ranks ranks differ"
done
echo "1, 2, 4 and 8 ranks (idle ranks at 8x8): byte-identical checkpoints $(md5sum <"$work/ranks1/checkpoints/final.ckpt" | cut -c1-12)"

# The paper preset's schedule (minibatch 128 at 4x4: 8 micro-batches of 16, 1 per rank on 8) on small networks.
echo '{"network": {"fmap_base": 64, "fmap_max": 16, "latent_size": 16}}' >"$work/small.json"
paper=(--dataset "$work/set.pgds" --preset paper --config "$work/small.json" --resolution 8 --total-kimg 0.384
       --tick-kimg 0.128)
"$progan" plan --preset paper --ranks 8 | grep -q "^4x4 .* 128 .* 8 .* 16 .* 2 .* 0 " || fail "paper plan on 8 ranks"
"$progan" train "${paper[@]}" --out "$work/dry" --dry-run --threads 1 |
    grep -q "^layout: 1 ranks x 1 threads" || fail "paper dry run"
for ranks in 1 8; do
    "${mpirun[@]}" -np $ranks "$progan" train "${paper[@]}" --out "$work/paper$ranks" >"$work/paperlog" 2>&1 ||
        fail "paper preset on $ranks ranks failed: $(tail -3 "$work/paperlog")"
done
cmp "$work/paper1/checkpoints/final.ckpt" "$work/paper8/checkpoints/final.ckpt" || fail "paper: 1 and 8 ranks differ"
echo "paper preset (small networks at 8x8), 3 steps: 8 ranks and 1 byte-identical"

for cores in 1 3 8 64; do
    output=$(PROGAN_CORES=$cores scripts/train.sh --dry-run --out "$work/dry" 2>/dev/null) ||
        fail "train.sh --dry-run for $cores cores failed"
    grep -q "^plan (dry run): " <<<"$output" || fail "$cores cores: no plan: $output"
    echo "$cores cores: $(grep '^layout: ' <<<"$output")"
done
[[ ! -e $work/dry ]] || fail "a dry run wrote $work/dry"

expect_error "more cores than there are" "nearest valid layouts: 2x4" "$progan" plan --cores 8 --ranks 3 --threads 4
expect_error "ranks that never work" "at 4x4, the phase with the most micro-batches (2)" "$progan" plan --ranks 8
expect_error "train.sh with too many cores per rank" "nearest valid layouts" \
    env PROGAN_CORES=8 RANKS=3 THREADS=4 scripts/train.sh --dry-run --out "$work/dry"
expect_error "an unreadable hostfile" "$work/none: cannot be read" "$progan" plan --hostfile "$work/none"
"$progan" plan --preset paper --cores 512 | grep -q "^layout: " || fail "paper on 512 cores"
"$progan" plan --preset paper-8 --hostfile hostfiles/cluster.example | grep -q "^layout: " || fail "paper-8 on the example cluster"
