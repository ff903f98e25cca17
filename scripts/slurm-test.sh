#!/usr/bin/env bash
# A real Slurm on this machine: installs Debian's slurm-wlm and munge when missing, starts munged,
# slurmctld and two slurmd, nodes n1 and n2 on this one host (Debian's Slurm is built with multiple-slurmd
# support; each node has its own port, spool and TmpFS), every path under one temporary directory. It
# submits scripts/slurm/train.sbatch for a tiny run on 2 nodes x 1 rank without RUN_DIR (so progan picks
# its Slurm default, runs/JOBNAME-JOBID), preempts it mid-run the way a time limit's warning does (USR1
# to the batch shell), lets the job requeue itself and resume in the same directory, and checks that its
# final checkpoint is byte-identical to an uninterrupted run's. Then it stops every daemon it started, by
# PID, and removes the directory.
#
# Where Slurm cannot run (not root, no cgroup file system, the packages cannot be installed) it says why
# and exits 0; it fails only when Slurm started and the job then misbehaved. Needs the release build.
# KEEP_SLURM_BASE=1 keeps the temporary directory (configuration, daemon logs, the job's output) to debug.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
progan=$PWD/.build/release/progan
fail() {
    echo "FAIL slurm-test: $*"
    [[ -s ${work:-}/job.out ]] && { echo "--- the job's output:"; tail -20 "$work/job.out"; }
    exit 1
}
unavailable() {
    echo "*** SKIPPED slurm-test: $* ***"
    echo "    It needs root and a cgroup file system at /sys/fs/cgroup (slurmd requires one); run it on such a"
    echo "    machine or container as: scripts/slurm-test.sh"
    exit 0
}

[[ -x $progan ]] || fail "$progan is missing: swift build -c release"
((EUID == 0)) || unavailable "not running as root"
grep -q ' /sys/fs/cgroup' /proc/mounts || unavailable "no cgroup file system at /sys/fs/cgroup"
base=$(mktemp -d /tmp/progan-slurm.XXXXXX)
chmod 755 "$base"
export SLURM_CONF=$base/slurm.conf
started=false
stop_everything() {
    if $started; then
        scancel --user=root 2>/dev/null
        # slurmd does not exit while processes of a job live.
        for _ in $(seq 100); do [[ -z $(squeue -h 2>/dev/null) ]] && break; sleep 0.1; done
        scontrol shutdown >/dev/null 2>&1
    fi
    local pidfile pid
    for pidfile in "$base"/slurmd-n1.pid "$base"/slurmd-n2.pid "$base"/slurmctld.pid "$base"/munge/pid; do
        [[ -s $pidfile ]] || continue
        pid=$(<"$pidfile")
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill "$pid"
        for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    done
    [[ -n ${KEEP_SLURM_BASE:-} ]] || rm -rf "$base"
}
trap stop_everything EXIT

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
    echo "installing slurm-wlm and munge"
    install() { DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slurm-wlm munge; }
    # A fresh machine may have no package lists yet.
    { install || { apt-get update && install; }; } >"$base/apt.log" 2>&1 ||
        unavailable "apt-get cannot install slurm-wlm and munge: $(tail -1 "$base/apt.log")"
fi

# munge: the key, socket and pid file under $base.
mkdir -p "$base/munge" "$base/state" "$base/spool" "$base/tmpfs" "$base/run" "$base/tmp"
chmod 755 "$base/munge"
mungekey --create --keyfile="$base/munge/munge.key" >/dev/null 2>&1 || unavailable "mungekey failed"
chmod 600 "$base/munge/munge.key"
munged --socket="$base/munge/sock" --key-file="$base/munge/munge.key" --log-file="$base/munge/log" \
    --pid-file="$base/munge/pid" --seed-file="$base/munge/seed" ||
    unavailable "munged does not start: $(tail -1 "$base/munge/log")"

host=$(hostname -s)
# Four free ports in a row, picked at random: a Slurm already running here (another run of this test)
# keeps its own, and no client of ours can reach its controller.
port_free() { [[ -z $(ss -Htln "sport = :$1" 2>/dev/null) ]]; }
for _ in $(seq 50); do
    port=$((20000 + RANDOM % 30000))
    port_free $port && port_free $((port + 1)) && port_free $((port + 2)) && port_free $((port + 3)) && break
done
cat >"$SLURM_CONF" <<CONF
ClusterName=progantest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$base/munge/sock,cred_expire=10
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=batch_sched_delay=0,sched_interval=1,bf_interval=1
MpiDefault=pmix
MailProg=/bin/true
ReturnToService=2
KillWait=5
StateSaveLocation=$base/state
SlurmdSpoolDir=$base/spool/%n
TmpFS=$base/tmpfs/%n
SlurmctldPidFile=$base/slurmctld.pid
SlurmdPidFile=$base/slurmd-%n.pid
SlurmctldLogFile=$base/slurmctld.log
SlurmdLogFile=$base/slurmd-%n.log
NodeName=n1 NodeHostname=$host NodeAddr=127.0.0.1 Port=$((port + 2)) CPUs=2 CoresPerSocket=2 State=UNKNOWN
NodeName=n2 NodeHostname=$host NodeAddr=127.0.0.1 Port=$((port + 3)) CPUs=2 CoresPerSocket=2 State=UNKNOWN
PartitionName=test Nodes=n1,n2 Default=YES MaxTime=INFINITE State=UP
CONF
slurmctld -f "$SLURM_CONF" || unavailable "slurmctld does not start: $(tail -2 "$base/slurmctld.log")"
started=true
for node in n1 n2; do
    mkdir -p "$base/spool/$node" "$base/tmpfs/$node"
    slurmd -f "$SLURM_CONF" -N $node ||
        unavailable "slurmd -N $node does not start (two nodes on one host need a Slurm built with" \
            "--enable-multiple-slurmd, as Debian's is): $(tail -2 "$base/slurmd-$node.log")"
done
node_states() { sinfo -h -N -o '%N %T' 2>&1 | sort -u | tr '\n' ' '; }
for _ in $(seq 100); do [[ $(node_states) == "n1 idle n2 idle " ]] && break; sleep 0.1; done
[[ $(node_states) == "n1 idle n2 idle " ]] ||
    unavailable "the nodes do not become idle: $(node_states) $(tail -qn 1 "$base"/slurmd-n*.log)"
echo "slurm up: nodes n1 and n2 on $host (config $SLURM_CONF)"

# The run: 200 steps of 16 images through 4x4 -> 8x8 on 2 ranks, a checkpoint every tick (4 steps).
work=$base/work
mkdir -p "$work"
export TMPDIR=$base/tmp OMPI_MCA_btl_vader_backing_directory=$base/tmp
"$progan" prepare /usr/share/javascript/emojify.js/images/emoji --out "$work/set.pgds" --resolution 8 >/dev/null ||
    fail "prepare failed"
echo '{"checkpoint_ticks": 1, "keep_checkpoints": 2}' >"$work/often.json"
flags="--preset tiny --resolution 8 --minibatch 16 --stabilize-kimg 0.512 --fade-kimg 0.512 --total-kimg 3.2"
flags+=" --tick-kimg 0.064 --config $work/often.json"
# shellcheck disable=SC2086 # the flags are words
timeout 120 mpirun --allow-run-as-root --oversubscribe -np 2 -x OPENBLAS_NUM_THREADS=1 \
    "$progan" train --dataset "$work/set.pgds" --out "$work/uninterrupted" $flags >"$work/uninterrupted.log" 2>&1 ||
    fail "the uninterrupted run failed: $(tail -3 "$work/uninterrupted.log")"

# Both nodes share this host's name, so OpenMPI would take them for one and try shared memory between
# them: TCP only, as between real nodes.
job=$(DATASET=$work/set.pgds TRAIN_FLAGS=$flags STAGE_DIR=$base/stage PROGAN=$progan OMPI_MCA_btl=self,tcp \
    sbatch --parsable --nodes=2 --ntasks-per-node=1 --chdir="$work" --output="$work/job.out" \
    scripts/slurm/train.sbatch) || fail "sbatch refused the job"
run=$work/runs/progan-$job
echo "submitted job $job on 2 nodes x 1 rank; its run directory by default: ${run#"$work"/}"
job_state() { scontrol show job "$job" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'; }

# Preempt once a few ticks are in: the warning a time limit gives (--signal=B:USR1), sent now.
deadline=$((SECONDS + 60))
until [[ -s $run/metrics.jsonl ]] && (($(wc -l <"$run/metrics.jsonl") >= 3)); do
    ((SECONDS < deadline)) || fail "the job did not train within 60 s: $(job_state); $(tail -3 "$work/job.out" 2>&1)"
    sleep 0.05
done
scancel --signal=USR1 --batch "$job" || fail "scancel --signal=USR1 failed"
echo "sent USR1 to the batch shell after $(wc -l <"$run/metrics.jsonl") ticks"

# The job stops with a checkpoint and requeues itself; the requeued job starts once the old job's
# credential has expired (cred_expire=10 above: 11-20 s; an earlier start is refused as "revoked").
deadline=$((SECONDS + 120))
while state=$(job_state); [[ $state != COMPLETED ]]; do
    ((SECONDS < deadline)) || fail "the job did not complete within 120 s (state $state)"
    case $state in
    FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY) fail "job $job ended $state" ;;
    esac
    sleep 0.2
done
grep -qF "on n[1-2]: srun, 2 ranks" "$work/job.out" || fail "the job did not run on both nodes"
grep -q "stopped on request" "$work/job.out" || fail "the job was not stopped on request"
grep -q "requeueing" "$work/job.out" || fail "the job did not requeue itself"
grep -q "resuming from runs/progan-$job/" "$work/job.out" || fail "the requeued job did not resume from ${run#"$work"/}"
grep -q '"slurm_restart_count":1' "$run/metrics.jsonl" || fail "metrics.jsonl has no tick of restart 1"
cmp "$work/uninterrupted/checkpoints/final.ckpt" "$run/checkpoints/final.ckpt" ||
    fail "the preempted and requeued job's final checkpoint differs from the uninterrupted run's"
echo "job $job: $(grep -m1 'stopped on request' "$work/job.out")"
echo "job $job: requeued, resumed ($(grep -m1 'resuming from' "$work/job.out")), final checkpoint byte-identical"
