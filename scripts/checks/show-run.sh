#!/usr/bin/env bash
# scripts/show-run.sh, the end of scripts/train.sh: on a finished tiny run it writes the report and the
# time-lapse and prints their paths and the SWD and MS-SSIM figures; a run that stopped below 16x16 (where
# neither metric exists) is shown without them, not failed; a run without final networks is an error.
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"
export PROGAN_BINARY=$progan RANKS=1 SWD_IMAGES=64
train_tiny "$work/run"
output=$(scripts/show-run.sh "$work/run" "$emoji") || fail "show-run.sh failed on a finished run: $output"
for file in report.html timelapse.png; do
    [[ -s $work/run/$file ]] || fail "no $file written"
    grep -qF "$work/run/$file" <<<"$output" || fail "$file is not named: $output"
done
grep -qE '^  quality        SWD [0-9.]+ x1e-3 ' <<<"$output" || fail "no SWD figure: $output"
grep -qE '^ +training images score [0-9.]+, as low' <<<"$output" || fail "no SWD floor: $output"
grep -qE '^  variety        MS-SSIM [0-9.]+ \(training images: [0-9.]+;' <<<"$output" || fail "no MS-SSIM: $output"
echo "a finished run: $(grep -E '^  quality' <<<"$output" | cut -c1-60)..."

train_tiny "$work/small" --total-kimg 0.1
output=$(scripts/show-run.sh "$work/small" "$emoji") || fail "show-run.sh failed on a run that ended at 4x4: $output"
grep -qF 'SWD and MS-SSIM not measured: the run ended at 4x4' <<<"$output" || fail "no note on the 4x4 run: $output"
echo "a run that ended at 4x4: $(grep -E '^  quality' <<<"$output" | sed 's/^ *//')"

rm "$work/small/checkpoints/final.ckpt"
output=$(scripts/show-run.sh "$work/small" 2>&1) && fail "show-run.sh passed a run without final networks"
grep -q "^error: .*has not finished" <<<"$output" || fail "no error naming the unfinished run: $output"
echo "an unfinished run -> $output"
