#!/usr/bin/env bash
# The main job: installs what is missing, builds, then trains the `cpu` preset on the emoji images that
# setup installs (libjs-emojify), one MPI rank per core, and prints where the samples are.
#
#   scripts/train.sh [progan train flags]     e.g. scripts/train.sh --total-kimg 20 --seed 7
#   RANKS=N      number of MPI ranks (default: the number of cores)
#   HOSTFILE=F   run across the hosts of an OpenMPI hostfile (see hostfiles/)
#   SIGKILL_DELAY=S  mpirun's odls_base_sigkill_timeout (default 20): a SIGTERM sent to mpirun itself reaches
#                the ranks after S seconds and SIGKILL after 2S; a signal sent to this script reaches them at once
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
[[ ${SIGKILL_DELAY:-20} =~ ^[0-9]{1,5}$ ]] || { echo "error: SIGKILL_DELAY '$SIGKILL_DELAY' must be whole seconds" >&2; exit 1; }
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
# A SIGTERM sent to mpirun itself reaches the ranks odls_base_sigkill_timeout seconds later, and SIGKILL as
# long again after it (1 s by default): long enough for the ranks to stop with a checkpoint. A stop ending in
# status 75 also keeps mpirun waiting twice that before it exits.
launch=(mpirun -np "$ranks" -x OPENBLAS_NUM_THREADS=1 --mca odls_base_sigkill_timeout "${SIGKILL_DELAY:-20}")
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
# Signals to this script reach every rank at once (see scripts/launch.sh).
exec scripts/launch.sh "${launch[@]}" .build/release/progan train "${args[@]}"
