#!/usr/bin/env bash
# Faults during training: with skip_non_finite_steps, non-finite updates are skipped and counted, the
# metrics stay valid JSON (`progan report` reads them) and the run finishes; a full disk while
# checkpointing stops the run with an error naming the file, and the previous checkpoint stays intact
# and usable.
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"
"$progan" prepare "$emoji" --out "$work/set.pgds" --resolution 8 >/dev/null || fail "prepare failed"
flags=(--dataset "$work/set.pgds" --preset tiny --resolution 8 --stabilize-kimg 0.016 --fade-kimg 0.016 --total-kimg 0.08
       --tick-kimg 0.016)

# A gradient-penalty target of 1e-30 squares to zero in float: the penalty, and so every loss, is not finite.
echo '{"skip_non_finite_steps": true, "loss": {"gp_target": 1e-30}}' >"$work/skip.json"
"$progan" train "${flags[@]}" --out "$work/skip" --config "$work/skip.json" >/dev/null ||
    fail "the skipping run failed"
skipped=$(tail -1 "$work/skip/metrics.jsonl" | sed -E 's/.*"skipped_updates": ?([0-9]+).*/\1/')
((skipped > 0)) || fail "no update was skipped"
"$progan" report "$work/skip" >/dev/null || fail "the metrics of a run with skipped updates are unreadable"
echo "non-finite updates skipped and counted: $skipped"

# A 600 KiB file system: the first checkpoint (~320 KB) fits, the second does not.
mkdir "$work/small"
if ! mount -t tmpfs -o size=600k tmpfs "$work/small" 2>"$work/mount.err"; then
    echo "SKIPPED the full-disk case: cannot mount a tmpfs here ($(cat "$work/mount.err"))"
    exit 0
fi
trap 'umount "$work/small" 2>/dev/null; rm -rf "$work"' EXIT
echo '{"checkpoint_ticks": 1, "keep_checkpoints": 3}' >"$work/often.json"
output=$("$progan" train "${flags[@]}" --out "$work/small/run" --config "$work/often.json" 2>&1) && fail "a full disk went unnoticed"
error=$(grep '^error: ' <<<"$output")
grep -q "No space left on device" <<<"$error" || fail "no disk-full error: $output"
grep -q "$work/small/run/" <<<"$error" || fail "the error does not name the file: $error"
echo "full disk: $error"
kept=$(find "$work/small/run/checkpoints" -name 'step-*.ckpt' | sort | tail -1)
[[ -n $kept ]] || fail "no earlier checkpoint"
"$progan" generate "$kept" --images 2 --out "$work/from-kept" >/dev/null || fail "the kept checkpoint $kept is unusable"
[[ -z $(find "$work/small/run" -name '*.tmp*') ]] || fail "a temporary file was left behind"
echo "the previous checkpoint $(basename "$kept") is intact"
