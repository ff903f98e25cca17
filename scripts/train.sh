#!/usr/bin/env bash
# The main job: installs what is missing, builds, then trains the `cpu` preset on the emoji images that
# setup installs (libjs-emojify), one MPI rank per core, and prints where the samples are.
#
#   scripts/train.sh [progan train flags]     e.g. scripts/train.sh --total-kimg 20 --seed 7
#   RANKS=N      number of MPI ranks (default: the number of cores)
#   HOSTFILE=F   run across the hosts of an OpenMPI hostfile (see hostfiles/)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ -z ${HOSTFILE:-} ]] || scripts/check-hostfile.sh "$HOSTFILE"
scripts/setup.sh >&2

args=("$@")
given() {
    local flag
    for flag in "${args[@]}"; do [[ $flag == "$1" || $flag == "$1="* ]] && return 0; done
    return 1
}
given --dataset || args+=(--dataset /usr/share/javascript/emojify.js/images/emoji)
given --out || args+=(--out "runs/emoji-$(date +%Y%m%d-%H%M%S)")

cores=$(nproc)
ranks=${RANKS:-$cores}
launch=(mpirun -np "$ranks" -x OPENBLAS_NUM_THREADS=1)
# mpirun refuses to run as root unless told that it is intended.
((EUID == 0)) && launch+=(--allow-run-as-root)
if [[ -n ${HOSTFILE:-} ]]; then
    launch+=(--hostfile "$HOSTFILE" --map-by node)
elif ((ranks > cores)); then
    # More ranks than cores: binding each to a core of its own is impossible.
    launch+=(--oversubscribe --bind-to none)
else
    launch+=(--bind-to core --map-by core)
fi
exec "${launch[@]}" .build/release/progan train "${args[@]}"
