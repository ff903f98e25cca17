#!/usr/bin/env bash
# The main job: installs what is missing, builds, then trains the `cpu` preset on the emoji images that
# setup installs (libjs-emojify), with the layout of ranks x threads that `progan plan` picks for the
# machine, and ends with scripts/show-run.sh: the HTML report, the time-lapse and the quality (SWD, and FID
# when the Inception weights are installed: measured at the last tick with --fid) of the final generator,
# printed in a few lines.
#
#   scripts/train.sh [progan train flags]     e.g. scripts/train.sh --total-kimg 20 --seed 7
#   scripts/train.sh --dry-run                prints the chosen launch and the plan, and trains nothing
#   PROGAN_MINUTES=M  the default job's budget in minutes, install and build included (default 15): what is
#                   left of it after the build, less the timing before training and the evaluation after,
#                   goes to `progan train --fit-minutes`, which sizes the run for this machine. A length given
#                   (--total-kimg or --fit-minutes) or a --preset or --config is trained as given.
#   PROGAN_CORES=N  plan for N cores instead of this machine's (more than it has: oversubscribed)
#   RANKS=N THREADS=T  this layout instead of the plan's choice (checked by the plan)
#   HOSTFILE=F      run across the hosts of an OpenMPI hostfile (see hostfiles/); inside a Slurm
#                   allocation the allocation's nodes and cores are used
#   SIGKILL_DELAY=S mpirun's odls_base_sigkill_timeout (default 20): a SIGTERM sent to mpirun itself reaches
#                   the ranks after S seconds and SIGKILL after 2S; a signal sent to this script reaches them
#                   at once (see scripts/launch.sh)
# Exit status: 0 finished, 1 error, 75 stopped on request with a checkpoint (the same command resumes).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# A user's hostfile is checked before setup and build, so that a typo fails at once.
[[ -z ${HOSTFILE:-} ]] || scripts/check-hostfile.sh "$HOSTFILE"
[[ ${SIGKILL_DELAY:-20} =~ ^[0-9]{1,5}$ ]] || { echo "error: SIGKILL_DELAY '$SIGKILL_DELAY' must be whole seconds" >&2; exit 1; }
scripts/setup.sh >&2

args=("$@")
given() {
    local flag
    for flag in "${args[@]}"; do [[ $flag == "$1" || $flag == "$1="* ]] && return 0; done
    return 1
}
given --dataset || args+=(--dataset /usr/share/javascript/emojify.js/images/emoji)
minutes=${PROGAN_MINUTES:-15}
[[ $minutes =~ ^[0-9]{1,5}(\.[0-9]+)?$ ]] || { echo "error: PROGAN_MINUTES '$minutes' must be a number of minutes" >&2; exit 1; }
if ! given --total-kimg && ! given --fit-minutes && ! given --preset && ! given --config; then
    # About 20 s of timing before the first step and 40 s of evaluation after the last (report, time-lapse,
    # SWD on 2048 images), and at least a minute of training.
    args+=(--fit-minutes "$(awk -v budget="$minutes" -v spent="$SECONDS" 'BEGIN {
        left = budget - spent / 60 - 1; printf "%.2f", left < 1 ? 1 : left }')")
fi
given --out || args+=(--out "runs/emoji-$(date +%Y%m%d-%H%M%S)")
# FID of the final generator when the Inception weights are installed (512 images per set: a few minutes
# on 2 cores; the reals' features are cached beside the dataset), else a note on how to get it.
inception=${PROGAN_INCEPTION:-$HOME/.cache/progan/inception-2015-12-05.safetensors}
if ! given --fid && ! given --no-fid; then
    if [[ -s $inception ]]; then
        args+=(--fid --fid-images 512)
    else
        echo "scripts/train.sh: no FID at the end: install the Inception weights with scripts/torch/install-inception.sh" >&2
    fi
fi

# The configuration flags, for the plan: train's own options (data, run directory, resume, length) left out.
plan_args=()
for ((i = 0; i < ${#args[@]}; i++)); do
    case ${args[i]} in
    --dataset | --out | --resume | --fit-minutes) ((i += 1)) ;;
    --dataset=* | --out=* | --resume=* | --fit-minutes=* | --dry-run) ;;
    *) plan_args+=("${args[i]}") ;;
    esac
done

machine=()
hostfile=${HOSTFILE:-}
if [[ -z $hostfile && -n ${SLURM_JOB_ID:-} && -n ${SLURM_CPUS_ON_NODE:-} ]]; then
    # The allocation as a hostfile: its nodes, each with the cores Slurm gives this job there.
    hostfile=$(mktemp)
    trap 'rm -f "$hostfile"' EXIT
    scontrol show hostnames "${SLURM_JOB_NODELIST:?}" | sed "s/\$/ slots=$SLURM_CPUS_ON_NODE/" >"$hostfile"
fi
cores=${PROGAN_CORES:-$(nproc)}
if [[ -n $hostfile ]]; then
    [[ $hostfile == "${HOSTFILE:-}" ]] || scripts/check-hostfile.sh "$hostfile"
    machine=(--hostfile "$hostfile")
else
    machine=(--cores "$cores")
fi
layout_flags=()
[[ -n ${RANKS:-} ]] && layout_flags+=(--ranks "$RANKS")
[[ -n ${THREADS:-} ]] && layout_flags+=(--threads "$THREADS")
layout=$(.build/release/progan plan "${plan_args[@]}" "${machine[@]}" "${layout_flags[@]}" --layout-only) || exit 1
read -r ranks threads <<<"$layout"

# A SIGTERM sent to mpirun itself reaches the ranks odls_base_sigkill_timeout seconds later, and SIGKILL as
# long again after it (1 s by default): long enough for the ranks to stop with a checkpoint. A stop ending in
# status 75 also keeps mpirun waiting twice that before it exits.
launch=(mpirun -np "$ranks" -x "OPENBLAS_NUM_THREADS=$threads" --mca odls_base_sigkill_timeout "${SIGKILL_DELAY:-20}")
# mpirun refuses to run as root unless told that it is intended.
((EUID == 0)) && launch+=(--allow-run-as-root)
if [[ -n $hostfile ]]; then
    nodes=$(sed -e 's/#.*//' "$hostfile" | awk 'NF' | wc -l)
    launch+=(--hostfile "$hostfile" --map-by "ppr:$(((ranks + nodes - 1) / nodes)):node:PE=$threads" --bind-to core)
elif ((ranks * threads > $(nproc))); then
    # More than the cores there are: binding each rank to cores of its own is impossible.
    launch+=(--oversubscribe --bind-to none)
else
    launch+=(--map-by "slot:PE=$threads" --bind-to core)
fi
# The engine's thread pool takes --threads where the build has it; BLAS follows OPENBLAS_NUM_THREADS.
train_help=$(.build/release/progan train --help)
[[ $train_help == *--threads* ]] && args+=(--threads "$threads")
if given --dry-run; then
    run_args=()
    for arg in "${args[@]}"; do [[ $arg == --dry-run ]] || run_args+=("$arg"); done
    echo "scripts/train.sh: $ranks ranks x $threads threads for ${hostfile:-$cores cores}: ${launch[*]} .build/release/progan train ${run_args[*]}"
    # What each rank would see under mpirun, without starting MPI.
    OMPI_COMM_WORLD_SIZE=$ranks OMPI_COMM_WORLD_RANK=0 OPENBLAS_NUM_THREADS=$threads \
        exec .build/release/progan train "${args[@]}"
fi
# Signals to this script reach every rank at once (see scripts/launch.sh): passed on to the launch script,
# which waits in the background so that a trap runs at once, not once the job has ended.
scripts/launch.sh "${launch[@]}" .build/release/progan train "${args[@]}" &
job=$!
for signal in TERM INT HUP USR1; do
    # shellcheck disable=SC2064 # the job's pid is fixed
    trap "kill -s $signal $job 2>/dev/null" "$signal"
done
while wait "$job"; kill -0 "$job" 2>/dev/null; do :; done
status=0
wait "$job" || status=$?
((status == 0)) || exit "$status"
trap - TERM INT HUP USR1
# The run's own copy of the images when it prepared a folder, else the prepared file it was given.
out= dataset=
for ((i = 0; i < ${#args[@]}; i++)); do
    case ${args[i]} in
    --out) out=${args[i + 1]} ;;
    --dataset) dataset=${args[i + 1]} ;;
    --out=*) out=${args[i]#--out=} ;;
    --dataset=*) dataset=${args[i]#--dataset=} ;;
    esac
done
[[ -d $dataset ]] && dataset=
# The evaluation runs here, on at most this machine's cores.
RANKS=$((ranks < $(nproc) ? ranks : $(nproc))) exec scripts/show-run.sh "$out" ${dataset:+"$dataset"}
