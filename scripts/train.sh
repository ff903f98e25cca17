#!/usr/bin/env bash
# The main job: installs what is missing, builds, then trains the `cpu` preset on the emoji images that
# setup installs (libjs-emojify), one MPI rank per core, and prints where the samples are.
#
#   scripts/train.sh [progan train flags]     e.g. scripts/train.sh --total-kimg 20 --seed 7
#   RANKS=N      number of MPI ranks (default: the number of cores)
#   HOSTFILE=F   run across the hosts of an OpenMPI hostfile (see hostfiles/)
#   SIGKILL_DELAY=S  seconds the ranks get to checkpoint after a SIGTERM to mpirun (default 60)
# Exit status: 0 finished, 1 error, 75 stopped on request with a checkpoint (the same command resumes).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -n ${HOSTFILE:-} ]]; then
    [[ -r $HOSTFILE ]] || { echo "error: HOSTFILE $HOSTFILE cannot be read" >&2; exit 1; }
    # An unknown name would otherwise surface as a wall of ssh and OpenMPI messages.
    for host in $(sed -e 's/#.*//' "$HOSTFILE" | awk 'NF { print $1 }'); do
        timeout 5 getent hosts "$host" >/dev/null || { echo "error: $HOSTFILE: host '$host' does not resolve" >&2; exit 1; }
    done
fi
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
# On SIGTERM mpirun forwards it to the ranks and SIGKILLs them odls_base_sigkill_timeout seconds later (1 by
# default): the ranks need longer to stop at a micro-batch boundary and write a checkpoint (exit status 75).
launch=(mpirun -np "$ranks" -x OPENBLAS_NUM_THREADS=1 --mca odls_base_sigkill_timeout "${SIGKILL_DELAY:-60}")
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
