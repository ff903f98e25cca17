#!/usr/bin/env bash
# End to end from the CLI: a `tiny` run from the emoji folder grows 4 -> 8 -> 16 and leaves sample grids
# at every resolution, a metrics log and the networks; `generate` and `interpolate` then use them.
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"
set -e

started=$SECONDS
OPENBLAS_NUM_THREADS=1 "$progan" train --dataset "$emoji" --out "$work/run" --preset tiny | tee "$work/train.log"
elapsed=$((SECONDS - started))
((elapsed < 120)) || { echo "the tiny run took $elapsed s; the limit is 120 s"; exit 1; }

run=$work/run
for file in config.json metrics.jsonl samples/reals.png checkpoints/final.ckpt; do
    [[ -s $run/$file ]] || { echo "missing $file"; exit 1; }
done
for resolution in 4 8 16; do
    grep -Eq "\"resolution\": ?$resolution[,}]" "$run/metrics.jsonl" || { echo "no tick at ${resolution}x$resolution"; exit 1; }
done
ticks=$(wc -l <"$run/metrics.jsonl")
grids=$(find "$run/samples" -name 'tick-*.png' | wc -l)
((ticks == grids && ticks >= 10)) || { echo "$ticks ticks but $grids sample grids"; exit 1; }

"$progan" generate "$run/checkpoints/final.ckpt" --images 3 --out "$work/images" --seed 7
(($(find "$work/images" -name 'seed7-*.png' | wc -l) == 3)) || { echo "generate wrote the wrong number of images"; exit 1; }
"$progan" generate "$run/checkpoints/final.ckpt" --images 3 --out "$work/again" --seed 7
cmp "$work/images/seed7-0000.png" "$work/again/seed7-0000.png" || { echo "the same seed gave different images"; exit 1; }
"$progan" generate "$run/checkpoints/final.ckpt" --images 9 --grid --out "$work/grid"
[[ -s $work/grid/grid.png ]] || { echo "no grid.png"; exit 1; }
"$progan" interpolate "$run/checkpoints/final.ckpt" --out "$work/walk" --keyframes 2 --frames-per-keyframe 3
(($(find "$work/walk" -name 'frame-*.png' | wc -l) == 6)) || { echo "interpolate wrote the wrong number of frames"; exit 1; }
echo "tiny run: $ticks ticks in $elapsed s"
