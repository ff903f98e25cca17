#!/usr/bin/env bash
# SIGKILL at 20 random points of a short run from an image folder (folder preparation, training, checkpoint
# and grid writing: a checkpoint and a grid every tick of two steps), each followed by the same command: the
# resumed run removes what the killed one left half-written, leaves no temporary file anywhere in the run
# directory, and ends with a final checkpoint byte-identical to an uninterrupted run's. The kill times are
# drawn with a fixed seed, so a failure can be replayed.
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"
victim=
trap '[[ -n $victim ]] && kill -9 "$victim" 2>/dev/null; rm -rf "$work"' EXIT

# Each checkpoint write is held 60 ms before its rename (a test-only delay of the writer): on a fast machine
# the writes are otherwise too short for random kills to land inside them.
export PROGAN_TEST_CHECKPOINT_DELAY_MS=60
echo '{"checkpoint_ticks": 1, "keep_checkpoints": 2}' >"$work/often.json"
flags=(--dataset "$emoji" --preset tiny --resolution 8 --minibatch 16 --stabilize-kimg 0.064 --fade-kimg 0.064
       --total-kimg 0.256 --tick-kimg 0.032 --config "$work/often.json")
train() { OPENBLAS_NUM_THREADS=1 "$progan" train "${flags[@]}" --out "$@"; }
temporaries() { find "$1" -name '.*.tmp' 2>/dev/null; }
# What the killed run was doing, as far as its files tell.
phase() {
    if [[ ! -e $1/dataset-8.pgds ]]; then echo "preparing the folder"
    elif [[ ! -e $1/checkpoints/final.ckpt ]]; then echo "training"
    else echo "finished"; fi
}

started=$(date +%s%N)
train "$work/reference" >"$work/reference.log" 2>&1 ||
    fail "the uninterrupted run failed: $(tail -2 "$work/reference.log")"
duration_ms=$((($(date +%s%N) - started) / 1000000))
echo "uninterrupted run: $duration_ms ms"

RANDOM=16
left_temporaries=0
for kill in $(seq 1 20); do
    run=$work/run
    rm -rf "$run"
    delay_ms=$((RANDOM % duration_ms))
    OPENBLAS_NUM_THREADS=1 "$progan" train "${flags[@]}" --out "$run" >"$work/killed.log" 2>&1 &
    victim=$!
    sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
    kill -9 "$victim" 2>/dev/null
    wait "$victim" 2>/dev/null
    victim=
    doing=$(phase "$run")
    left=$(temporaries "$run" | sed "s|^$run/||" | tr '\n' ' ')
    [[ -n $left ]] && left_temporaries=$((left_temporaries + 1))
    checkpoints=$(find "$run/checkpoints" -maxdepth 1 -name 'step-*.ckpt' 2>/dev/null | wc -l)
    train "$run" >"$work/resumed.log" 2>&1 || fail "kill $kill: the resumed run failed: $(tail -2 "$work/resumed.log")"
    [[ -z $(temporaries "$run") ]] || fail "kill $kill: temporary files survived the resume: $(temporaries "$run")"
    if [[ -n $left ]]; then
        grep -q "removed .* temporary file" "$work/resumed.log" ||
            fail "kill $kill: the removal of $left was not reported"
    fi
    cmp "$work/reference/checkpoints/final.ckpt" "$run/checkpoints/final.ckpt" ||
        fail "kill $kill at $delay_ms ms: the final checkpoint differs from the uninterrupted run's"
    echo "kill $kill at $delay_ms ms ($doing): $checkpoints step checkpoints, left ${left:-no temporary files};" \
        "resumed, final checkpoint identical"
done
((left_temporaries > 0)) || fail "no kill landed in the middle of a write; the check exercised nothing"
echo "20 kills ($left_temporaries mid-write): no temporary file survived a resume, every final checkpoint identical"
