#!/usr/bin/env bash
# Exact resume: a run killed with SIGKILL on a random rank at three points and resumed each time (once on
# a different number of ranks) ends with a final checkpoint byte-identical to an uninterrupted run's. A
# truncated or bit-flipped newest checkpoint is reported and the previous one used. SIGTERM stops a run
# with a checkpoint and exit status 75.
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"
trap 'pkill -9 -f "progan train.*$work" 2>/dev/null; rm -rf "$work"' EXIT
train() {  # train RANKS OUT [flags...]
    local ranks=$1 out=$2
    shift 2
    timeout 120 mpirun --allow-run-as-root --oversubscribe -np "$ranks" -x OPENBLAS_NUM_THREADS=1 \
        "$progan" train "${flags[@]}" --out "$out" "$@"
}

"$progan" prepare "$emoji" --out "$work/set.pgds" --resolution 8 >/dev/null || fail "prepare failed"
# 100 steps of 16 images through the 4x4 -> 8x8 transition, a checkpoint every 4 steps.
flags=(--dataset "$work/set.pgds" --preset tiny --resolution 8 --minibatch 16 --stabilize-kimg 0.256 --fade-kimg 0.256
       --total-kimg 1.6 --tick-kimg 0.064 --config "$work/often.json")
echo '{"checkpoint_ticks": 1, "keep_checkpoints": 3}' >"$work/often.json"

train 2 "$work/a" >/dev/null || fail "uninterrupted run failed"

newest_step() { find "$1/checkpoints" -name 'step-*.ckpt' 2>/dev/null | sort | tail -1 | sed -E 's/.*step-0*([0-9]+)\.ckpt/\1/'; }
for target in 8 24 40; do
    train 2 "$work/b" >"$work/b.log" 2>&1 &
    launcher=$!
    until [[ $(newest_step "$work/b") -ge $target ]]; do
        kill -0 $launcher 2>/dev/null || fail "run b ended before step $target"
        sleep 0.05
    done
    victims=($(pgrep -f "^$progan train.*$work/b"))
    victim=${victims[RANDOM % ${#victims[@]}]}
    kill -9 "$victim"
    wait $launcher && fail "the job survived the death of a rank"
    echo "killed rank process $victim after checkpoint step $(newest_step "$work/b")"
done
train 4 "$work/b" >"$work/b.log" 2>&1 || fail "resume on 4 ranks failed: $(tail -3 "$work/b.log")"
grep -q "resuming from" "$work/b.log" || fail "the last run did not resume"
cmp "$work/a/checkpoints/final.ckpt" "$work/b/checkpoints/final.ckpt" || fail "the resumed run differs from the uninterrupted one"
echo "killed 3 times, resumed (last on 4 ranks): final checkpoint byte-identical"

# Corrupt newest checkpoints: truncated, then bit-flipped; each is skipped for the one before it.
for damage in truncate flip; do
    newest=$(find "$work/b/checkpoints" -maxdepth 1 -name 'step-*.ckpt' | sort | tail -1)
    previous=$(find "$work/b/checkpoints" -maxdepth 1 -name 'step-*.ckpt' | sort | tail -2 | head -1)
    if [[ $damage == truncate ]]; then
        truncate -s 1000 "$newest"
    else
        printf '\xff' | dd of="$newest" bs=1 seek=5000 conv=notrunc 2>/dev/null
    fi
    output=$(train 1 "$work/b" --total-kimg 1.664 2>&1) || fail "resume after $damage failed: $output"
    grep -q "skipping unusable checkpoint: $newest" <<<"$output" || fail "$damage: the damaged checkpoint was not reported"
    grep -q "resuming from $previous" <<<"$output" || fail "$damage: did not resume from $previous"
    echo "$damage: $(grep 'skipping' <<<"$output")"
done

# SIGTERM to the ranks, as a scheduler's preemption sends it: write a checkpoint, exit 75 ("resume me").
train 2 "$work/c" --total-kimg 4 >"$work/c.log" 2>&1 &
launcher=$!
until [[ -n $(newest_step "$work/c") ]]; do sleep 0.05; done
pkill -TERM -f "^$progan train.*$work/c"
wait $launcher
status=$?
((status == 75)) || fail "SIGTERM: exit status $status, not 75: $(tail -3 "$work/c.log")"
grep -q "stopped on request before step" "$work/c.log" || fail "SIGTERM: no checkpoint message: $(tail -3 "$work/c.log")"
echo "SIGTERM: $(grep 'stopped on request' "$work/c.log")"
