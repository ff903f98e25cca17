#!/usr/bin/env bash
# What a finished run made, in a few lines: writes its HTML report and time-lapse, measures the sliced
# Wasserstein distance (SWD) of the final averaged generator against the training images and against their
# own floor (two sets of reals compared), and prints the paths and the figures. scripts/train.sh ends with it;
# it also runs on its own, on any finished run directory.
#
#   scripts/show-run.sh RUN_DIR [DATASET]   DATASET: the training images (default: the run's own prepared copy)
#   RANKS=N         evaluate on N MPI ranks (default: one per core)
#   SWD_IMAGES=N    images per set (default 2048; fewer is faster and biased higher)
# Exit status: 0, or 1 when the run is not finished or a step fails.
set -euo pipefail
root=$(dirname "${BASH_SOURCE[0]}")/..
(($# == 1 || $# == 2)) || { echo "usage: scripts/show-run.sh RUN_DIR [DATASET]" >&2; exit 2; }
run=${1%/}
progan=${PROGAN_BINARY:-$root/.build/release/progan}
final=$run/checkpoints/final.ckpt
[[ -f $final ]] || { echo "error: $run: no $final (the run has not finished)" >&2; exit 1; }
dataset=${2:-}
if [[ -z $dataset ]]; then
    for prepared in "$run"/dataset-*.pgds; do [[ -f $prepared ]] && dataset=$prepared; done
    [[ -n $dataset ]] || { echo "error: $run: no prepared dataset in the run; give the training images" >&2; exit 1; }
fi
images=${SWD_IMAGES:-2048}
ranks=${RANKS:-$(nproc)}
[[ $images =~ ^[0-9]{1,7}$ && $ranks =~ ^[0-9]{1,4}$ && $ranks -ge 1 ]] ||
    { echo "error: SWD_IMAGES '$images' and RANKS '$ranks' must be whole numbers (RANKS at least 1)" >&2; exit 1; }

report=$("$progan" report "$run" | sed -n 's/^wrote \(.*\) ([0-9]* ticks)$/\1/p')
timelapse=$("$progan" timelapse "$run" | sed -n 's/^wrote \(.*\): [0-9]* frames .*/\1/p')

# FID comes from the run itself: `train --fid` measures it at the last tick (scripts/train.sh asks for it when
# the Inception weights are installed), so it is read from the last metrics line.
last_line=$(tail -1 "$run/metrics.jsonl")
fid=$(sed -n 's/.*"fid":\([-0-9.e+]*\).*/\1/p' <<<"$last_line")
last_grid=$(sed -n 's/.*"grid":"\([^"]*\)".*/\1/p' <<<"$last_line" | sed 's#\\/#/#g')
side=$(sed -n 's/.*"resolution":\([0-9]*\).*/\1/p' <<<"$last_line")
# SWD's coarsest level is 16x16 and MS-SSIM's smallest scale needs as much: a run stopped below that has neither.
smallest_measured=16
if ((${side:-0} >= smallest_measured)); then
    launch=(mpirun -np "$ranks" -x OPENBLAS_NUM_THREADS=1 --oversubscribe --bind-to none)
    ((EUID == 0)) && launch+=(--allow-run-as-root)
    started=$SECONDS
    evaluation=$("${launch[@]}" "$progan" evaluate "$final" --dataset "$dataset" --images "$images" --reals-vs-reals)
    seconds=$((SECONDS - started))
fi
mean() { awk -v label="$1" 'index($0, label) == 1 { print $NF }' <<<"$evaluation"; }
similarity() { sed -n "s/^MS-SSIM .* $1 \([0-9.]*\).*/\1/p" <<<"$evaluation"; }

echo
echo "What the run made, in $run:"
echo "  final samples  $run/$last_grid   (the training images, to compare: $run/samples/reals.png)"
echo "  report         $report   (open it in a browser: curves, samples at each resolution, speed)"
echo "  time-lapse     $timelapse   (the samples of every tick, one after another)"
if [[ -n ${evaluation:-} ]]; then
    generated=$(mean "generated vs reals")
    floor=$(mean "reals vs reals (floor)")
    levels=$(awk '/^ +[0-9]+x[0-9]+/ { NF--; $1 = $1; gsub(/ /, ", "); print }' <<<"$evaluation")
    echo "  quality        SWD $generated x1e-3 (lower is better), generated against training images; two sets of"
    echo "                 training images score $floor, as low as this measure can go ($images images a set, the"
    echo "                 mean over levels $levels of a Laplacian pyramid; measured in $seconds s)"
    echo "  variety        MS-SSIM $(similarity generated) (training images: $(similarity reals);" \
        "far higher means G repeats itself)"
else
    echo "  quality        SWD and MS-SSIM not measured: the run ended at ${side}x$side, and both need" \
        "${smallest_measured}x$smallest_measured or more"
fi
if [[ -n $fid ]]; then
    echo "  FID            $fid (lower is better), measured by the run at its last tick"
else
    echo "  FID            not measured: install the Inception weights with scripts/torch/install-inception.sh," \
        "and scripts/train.sh measures it"
fi
