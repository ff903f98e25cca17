#!/usr/bin/env bash
# A measured sweep of training settings at a fixed wall-clock budget: every variant of the grid trains for
# exactly BUDGET seconds (then stops on request with a checkpoint, as a signal would stop it), its final
# resolution taking whatever time the schedule leaves, and the averaged generator of that checkpoint is
# scored by SWD against the training images. The best few are then trained again with more seeds, since GAN
# results vary by seed, and the table gives each variant's mean SWD and its spread over seeds.
#
#   scripts/sweep.sh [--budget S] [--seeds N] [--top K] [--cores C] [--dataset PATH] [--out DIR] [--grid FILE]
#                    [--swd-images N] [-- TRAIN FLAGS FOR EVERY RUN]
#
#   --budget S      seconds of training per run (default 900: the default job's 15 minutes)
#   --seeds N       seeds for each of the best (default 3); the first pass trains one seed per variant
#   --top K         variants trained with every seed (default 3)
#   --cores C       cores for each run, one run at a time (default 2); the layout is `progan plan`'s
#   --dataset PATH  prepared dataset or image folder (default: the emoji images)
#   --out DIR       where runs and the table go (default runs/sweep); rerunning with the same DIR reuses the
#                   runs that have a result, so an interrupted sweep continues
#   --grid FILE     variants, one a line: NAME, a tab, train flags, optionally a tab and a JSON object of
#                   config.json settings (`{"ema": {"half_life_kimg": 5}}`); lines starting with # are skipped.
#                   Default: the grid below, around the `cpu` preset.
#   --swd-images N  images per set for SWD (default 2048)
# Writes DIR/results.md (date, budget, seeds, the reals' own SWD floor and the table) and prints it.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
progan=${PROGAN_BINARY:-$root/.build/release/progan}
budget=900 seeds=3 top=3 cores=2 out=runs/sweep grid= swd_images=2048
dataset=/usr/share/javascript/emojify.js/images/emoji
common=()
while (($# > 0)); do
    case $1 in
    --budget | --seeds | --top | --cores | --dataset | --out | --grid | --swd-images)
        (($# >= 2)) || { echo "error: $1 needs a value" >&2; exit 1; }
        name=${1#--}
        printf -v "${name//-/_}" '%s' "$2"
        shift 2
        ;;
    --) shift; common=("$@"); break ;;
    *) echo "error: $1: unknown option (see the top of scripts/sweep.sh)" >&2; exit 1 ;;
    esac
done
for number in budget seeds top cores swd_images; do
    [[ ${!number} =~ ^[0-9]{1,7}$ && ${!number} -ge 1 ]] ||
        { echo "error: --${number//_/-} '${!number}' must be a whole number from 1" >&2; exit 1; }
done
mkdir -p "$out"

default_grid() {
    # Each variant changes one thing of the `cpu` preset (WGAN-GP, learning rate 0.002 ramped down to a tenth
    # from 45 to 85 kimg, minibatch 8, 3 + 3 kimg per resolution, up to 32 maps, EMA half-life 1.5 kimg with a
    # 10% ramp-up, no mirroring); scripts/sweeps/ has the grids the preset was chosen with. The ramp-down is in
    # images, not time: a budget far from the default 900 s needs it moved (a --grid file) to end with the run.
    printf '%s\t%s\t%s\n' \
        baseline "" "" \
        phases-1.5 "--stabilize-kimg 1.5 --fade-kimg 1.5" "" \
        phases-6 "--stabilize-kimg 6 --fade-kimg 6" "" \
        minibatch-4 "--minibatch 4" "" \
        minibatch-16 "--minibatch 16" "" \
        lr-0.001 "--learning-rate 0.001" "" \
        lr-0.004 "--learning-rate 0.004" "" \
        maps-16 "" '{"network": {"fmap_base": 256, "fmap_max": 16}}' \
        maps-64 "" '{"network": {"fmap_base": 1024, "fmap_max": 64}}' \
        ema-0.75 "" '{"ema": {"half_life_kimg": 0.75}}' \
        ema-3 "" '{"ema": {"half_life_kimg": 3}}' \
        ema-no-rampup "" '{"ema": {"rampup": null}}' \
        logistic-r1 "--loss logistic" "" \
        mirror "--mirror" "" \
        no-rampdown "" '{"schedule": {"learning_rate_rampdown": null}}'
}
if [[ -n $grid ]]; then
    [[ -r $grid ]] || { echo "error: $grid: cannot be read" >&2; exit 1; }
    variants=$(grep -v '^#' "$grid" | awk 'NF')
else
    variants=$(default_grid)
fi

# A folder is prepared once, so that no run spends its budget on it.
images=$dataset
if [[ -d $dataset ]]; then
    [[ -f $out/dataset.pgds ]] || "$progan" prepare "$dataset" --out "$out/dataset.pgds" >/dev/null
    dataset=$out/dataset.pgds
fi
launch_prefix() {
    local layout ranks threads
    layout=$("$progan" plan "$@" --cores "$cores" --layout-only) || return 1
    read -r ranks threads <<<"$layout"
    launcher=(mpirun -np "$ranks" -x "OPENBLAS_NUM_THREADS=$threads" --oversubscribe --bind-to none)
    ((EUID == 0)) && launcher+=(--allow-run-as-root)
    thread_flags=(--threads "$threads")
}

# field NAME N: the Nth tab-separated field of variant NAME's line (empty fields kept, as `read` would not).
field() { awk -F '\t' -v name="$1" -v n="$2" '$1 == name { print $n }' <<<"$variants"; }

# run NAME SEED: trains variant NAME with SEED for the budget and writes RUN/result (SWD mean, resolution,
# kimg), unless it is there already.
run() {
    local name=$1 seed=$2 dir=$out/$1/seed-$2
    [[ -f $dir/result ]] && return 0
    local flags json train=()
    flags=$(field "$name" 2)
    json=$(field "$name" 3)
    read -ra train <<<"$flags"
    if [[ -n $json ]]; then
        printf '%s\n' "$json" >"$out/$name.json"
        train+=(--config "$out/$name.json")
    fi
    # The run never ends by itself: the budget ends it.
    train+=(--seed "$seed" --total-kimg 1000000 "${common[@]}")
    launch_prefix "${train[@]}"
    rm -rf "$dir"
    mkdir -p "$dir"
    local status=0
    # --foreground: only launch.sh gets the budget's SIGTERM and passes the stop on to the ranks. Without it
    # timeout signals its whole process group, mpirun included, and mpirun then exits 1 and may kill the
    # ranks before they have written their stop checkpoint.
    timeout --foreground --preserve-status -s TERM "$budget" "$root/scripts/launch.sh" "${launcher[@]}" "$progan" train \
        --dataset "$dataset" --out "$dir/run" "${train[@]}" "${thread_flags[@]}" >"$dir/train.log" 2>&1 || status=$?
    local checkpoint
    checkpoint=$(sed -n 's/^stopped on request before step [0-9]*; checkpoint \(.*\); the same command resumes$/\1/p' \
        "$dir/train.log")
    [[ $status == 0 ]] && checkpoint=$dir/run/checkpoints/final.ckpt
    if [[ ! -f $checkpoint ]]; then
        echo "error: $name, seed $seed: training ended with status $status: $(tail -2 "$dir/train.log")" >&2
        return 1
    fi
    local evaluation resolution kimg final
    evaluation=$("${launcher[@]}" "$progan" evaluate "$checkpoint" --dataset "$dataset" --images "$swd_images") ||
        return 1
    resolution=$(sed -n 's/.* per set at \([0-9]*\)x[0-9]*, .*/\1/p' <<<"$evaluation")
    final=$(sed -n 's/^ *"resolution" : \([0-9]*\),\{0,1\}$/\1/p' "$dir/run/config.json" | tail -1)
    kimg=$(tail -1 "$dir/run/metrics.jsonl" | sed -n 's/.*"kimg":\([0-9.]*\).*/\1/p')
    # A run stopped before its final resolution is scored at a lower one: not comparable, so no SWD.
    local swd=-
    ((resolution == final)) && swd=$(awk '/^generated vs reals/ { print $NF }' <<<"$evaluation")
    echo "$swd $resolution ${kimg:-0}" >"$dir/result"
    echo "$name seed $seed: SWD ${swd} at ${resolution}x${resolution}, ${kimg:-0} kimg in ${budget} s" >&2
}

floor_file=$out/floor-$swd_images
if [[ ! -f $floor_file ]]; then
    "$progan" evaluate --dataset "$dataset" --images "$swd_images" --reals-vs-reals |
        awk '/^reals vs reals/ { print $NF }' >"$floor_file"
fi

names=$(cut -f1 <<<"$variants")
for name in $names; do run "$name" 1000; done
# The best by their first seed get the other seeds.
best=$(for name in $names; do
    read -r swd _ <"$out/$name/seed-1000/result"
    [[ $swd != - ]] && echo "$swd $name"
done | sort -g | head -n "$top" | cut -d' ' -f2)
for name in $best; do
    for ((seed = 1001; seed < 1000 + seeds; seed++)); do run "$name" "$seed"; done
done

{
    echo "## Sweep of $(date -u +%Y-%m-%d), $budget s of training per run on $cores cores"
    echo
    echo "- images: $images${common[*]:+; flags for every run: ${common[*]}}"
    echo "- SWD x1e3 of the averaged generator against the training images, $swd_images images a set, the mean"
    echo "  over pyramid levels; two sets of training images score $(cat "$floor_file")"
    echo "- every variant with seed 1000, the best $top also with seeds up to $((1000 + seeds - 1)); spread: the"
    echo "  standard deviation over seeds; a run stopped before its final resolution has no SWD"
    echo
    echo "| variant | flags | config | seeds | SWD mean | spread | min | max | kimg (mean) |"
    echo "|---|---|---|---:|---:|---:|---:|---:|---:|"
    for name in $names; do
        cat "$out/$name"/seed-*/result | awk -v name="$name" -v flags="$(field "$name" 2)" \
            -v json="$(field "$name" 3)" '
            { kimg += $3; n += 1; if ($1 != "-") { s += $1; ss += $1 * $1; m += 1
                  min = (m == 1 || $1 < min) ? $1 : min; max = (m == 1 || $1 > max) ? $1 : max } }
            END {
                if (m == 0) {
                    printf "| %s | %s | %s | %d | - | - | - | - | %.1f |\n", name, flags, json, n, kimg / n; exit
                }
                mean = s / m; sd = m > 1 ? sqrt((ss - m * mean * mean) / (m - 1)) : 0
                printf "| %s | %s | %s | %d | %.2f | %s | %.2f | %.2f | %.1f |\n", name, flags, json, m, mean,
                    (m > 1 ? sprintf("%.2f", sd) : "-"), min, max, kimg / n }'
    done >"$out/rows"
    # Best first; variants without an SWD last.
    grep -v '^| [^|]* | [^|]* | [^|]* | [0-9]* | - |' "$out/rows" | sort -t'|' -k6,6g || true
    grep '^| [^|]* | [^|]* | [^|]* | [0-9]* | - |' "$out/rows" || true
} >"$out/results.md"
cat "$out/results.md"
