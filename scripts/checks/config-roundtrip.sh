#!/usr/bin/env bash
# A run's config.json resumes that run: for each preset, a one-step run started with every training flag
# is continued by `progan train --config RUN/config.json --out RUN` alone, and a flag that changes the
# recipe on top of it is refused with the setting named, old and new value. (The unit test
# ConfigRoundTripTests covers each flag on its own.)
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"

"$progan" prepare "$emoji" --out "$work/set.pgds" --resolution 16 >/dev/null || fail "prepare failed"
flags=(--resolution 16 --seed 4242 --loss hinge --stabilize-kimg 0.3 --fade-kimg 0.5 --minibatch 8
       --learning-rate 0.0042 --microbatch 4 --no-deterministic --no-mirror --skip-non-finite-steps --tick-kimg 0.004
       --checkpoint-ticks 7 --keep-checkpoints 5 --grid-samples 12 --swd-ticks 3 --swd-images 64)
for preset in tiny cpu paper; do
    run=$work/$preset
    OPENBLAS_NUM_THREADS=1 "$progan" train --dataset "$work/set.pgds" --out "$run" --preset "$preset" "${flags[@]}" \
        --total-kimg 0.008 >"$work/first.log" 2>&1 || { cat "$work/first.log"; fail "$preset: the first run failed"; }
    OPENBLAS_NUM_THREADS=1 "$progan" train --dataset "$work/set.pgds" --out "$run" --config "$run/config.json" \
        >"$work/again.log" 2>&1 || { cat "$work/again.log"; fail "$preset: config.json was not accepted back"; }
    grep -q "resuming from $run/checkpoints/step-000000001.ckpt: step 1" "$work/again.log" ||
        fail "$preset: the run was not resumed: $(cat "$work/again.log")"
    expect_error "$preset: another seed on resume" 'seed: 4242 in the checkpoint, 5 now' \
        "$progan" train --dataset "$work/set.pgds" --out "$run" --config "$run/config.json" --seed 5
done
echo "config.json resumed its run for every preset"
