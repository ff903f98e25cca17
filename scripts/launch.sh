#!/usr/bin/env bash
# Runs a job launcher (mpirun or srun with its arguments) and passes a stop request on to every rank at
# once: SIGTERM, SIGINT, SIGHUP or SIGUSR1 sent to this script reaches the launcher as SIGUSR1, which
# both launchers forward to the ranks immediately. (On SIGTERM, SIGINT or SIGHUP, OpenMPI 4.1's mpirun
# instead waits odls_base_sigkill_timeout seconds before passing SIGTERM on, SIGKILLs the ranks as long
# again later, and exits 1 whatever the ranks did.) Exits with the launcher's status: 0 finished, 1
# error, 75 stopped on request with a checkpoint (the same command resumes).
#
#   scripts/launch.sh mpirun -np 4 ... .build/release/progan train ...
set -uo pipefail
(($# > 0)) || { echo "usage: scripts/launch.sh LAUNCHER [ARGS...]" >&2; exit 2; }
"$@" &
launcher=$!
forwarded=0
for signal in TERM INT HUP USR1; do
    # shellcheck disable=SC2064 # the launcher's pid is fixed
    trap "forwarded=1; kill -s USR1 $launcher 2>/dev/null" "$signal"
done
# A trapped signal interrupts `wait`; wait again until the launcher has ended, then collect its status.
while wait "$launcher"; kill -0 "$launcher" 2>/dev/null; do :; done
wait "$launcher"
status=$?
# mpirun installs its USR1 forwarding only once it has started the job: a stop that arrives before then
# kills mpirun itself (128 + 10). No rank has trained yet, so it is still a stop the same command resumes.
if ((forwarded && status == 138)); then
    echo "launch: stopped on request before the job had started; the same command resumes" >&2
    exit 75
fi
exit "$status"
