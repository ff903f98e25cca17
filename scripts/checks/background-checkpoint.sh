#!/usr/bin/env bash
# Checkpoints by wall clock, written in the background, on a slow disk simulated by the test-only
# PROGAN_TEST_CHECKPOINT_DELAY_MS (each write waits 3 s before its rename): steps go on while a write is
# in flight, and SIGKILL during a write leaves the previous checkpoint intact; the run resumes from it.
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"
pid=
trap '[[ -n $pid ]] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"' EXIT

"$progan" prepare "$emoji" --out "$work/set.pgds" --resolution 8 >/dev/null || fail "prepare failed"
# A long run with rare ticks: every checkpoint comes from --checkpoint-minutes (0.02: every 1.2 s).
flags=(--dataset "$work/set.pgds" --out "$work/run" --preset tiny --resolution 8 --minibatch 16 --tick-kimg 50
       --checkpoint-ticks 1000 --checkpoint-minutes 0.02)
PROGAN_TEST_CHECKPOINT_DELAY_MS=3000 OPENBLAS_NUM_THREADS=1 "$progan" train "${flags[@]}" --total-kimg 1000 \
    >"$work/run.log" 2>&1 &
pid=$!
await() {  # await PATTERN COUNT: until the log has COUNT lines matching PATTERN (at most 60 s)
    local deadline=$((SECONDS + 60))
    until (($(grep -c "$1" "$work/run.log") >= $2)); do
        kill -0 "$pid" 2>/dev/null || fail "the run ended: $(tail -3 "$work/run.log")"
        ((SECONDS < deadline)) || fail "no '$1' line $2 within 60 s: $(tail -3 "$work/run.log")"
        sleep 0.05
    done
}
await "written in" 1
written=$(grep -m1 "written in" "$work/run.log")
echo "$(grep -m1 'in the background' "$work/run.log")"
echo "$written"
[[ $written =~ from\ step\ ([0-9]+)\ to\ ([0-9]+) ]] || fail "no step range in: $written"
((BASH_REMATCH[2] > BASH_REMATCH[1])) || fail "no step was trained during the write: $written"
previous=$(sed -E 's/checkpoint (.*) written in.*/\1/' <<<"$written")
# The next write has started and is held before its rename: kill the run then.
await "in the background" 2
sleep 1
in_flight=$(grep "in the background" "$work/run.log" | sed -n '2s/.*; writing \(.*\) in the background/\1/p')
kill -9 "$pid"
wait "$pid" 2>/dev/null
pid=
[[ ! -e $in_flight ]] || fail "the checkpoint being written when the run was killed exists: $in_flight"
"$progan" inspect "$previous" >/dev/null || fail "the previous checkpoint is damaged: $previous"
echo "SIGKILL while $in_flight was written: $previous intact"

kimg=$("$progan" inspect "$previous" | sed -n 's/.*images shown[^0-9]*\([0-9]*\).*/\1/p' | head -1)
[[ -n $kimg ]] || fail "cannot read the images shown of $previous"
total=$((kimg + 64))
OPENBLAS_NUM_THREADS=1 "$progan" train "${flags[@]}" --total-kimg "$((total / 1000)).$(printf %03d $((total % 1000)))" \
    >"$work/resume.log" 2>&1 || fail "the resumed run failed: $(tail -3 "$work/resume.log")"
grep -q "resuming from $previous" "$work/resume.log" ||
    fail "did not resume from $previous: $(head -3 "$work/resume.log")"
echo "resumed from $previous"
