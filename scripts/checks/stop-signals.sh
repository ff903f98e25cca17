#!/usr/bin/env bash
# Stopping on request with steps longer than a second, under mpirun: SIGTERM to the job (scripts/launch.sh
# around mpirun, as scripts/train.sh runs it) and SIGUSR1 to rank 1 alone (a warning that reached one node)
# each stop every rank at a micro-batch boundary with a checkpoint and exit status 75; the same command
# resumes, and the final checkpoint is byte-identical to an uninterrupted run's. SIGTERM to mpirun itself
# reaches the ranks after odls_base_sigkill_timeout (raised to 3 s here) and also ends in a stop checkpoint,
# but mpirun then exits 1 and no MCA parameter or option changes that in OpenMPI 4.1.4: ess_hnp_module.c
# traps TERM, INT and HUP unconditionally (lines 186-188) and its clean_abort sets the status to 1 (line 941)
# as the signal arrives; ORTE_UPDATE_EXIT_STATUS replaces only a zero status (orte_globals.h:168-177), so
# the ranks' later 75 is dropped and orterun.c:215 exits 1; ess_base_forward_signals refuses the three
# (ess_base_frame.c:162-164). The check accepts 75 too, should a later OpenMPI pass the ranks' status on.
# SIGTERM and SIGHUP during `prepare` leave no file and exit 75.
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"
launcher=
# The job's processes: the launch script, its mpirun, mpirun's ranks.
job_processes() {
    local pid
    for pid in $(pgrep -P "$launcher"); do echo "$pid"; pgrep -P "$pid"; done
    echo "$launcher"
}
trap '[[ -n $launcher ]] && kill -9 $(job_processes) 2>/dev/null; rm -rf "$work"' EXIT

"$progan" prepare "$emoji" --out "$work/set.pgds" --resolution 8 >/dev/null || fail "prepare failed"
# 6 steps of 3072 images (384 micro-batches of 4 per rank each, one thread per rank) with 64 feature maps,
# one tick per step, through the 4x4 -> 8x8 transition; a step takes one to a few seconds on 2 cores.
echo '{"network": {"fmap_base": 256, "fmap_max": 64, "latent_size": 64}}' >"$work/wide.json"
flags=(--dataset "$work/set.pgds" --preset tiny --config "$work/wide.json" --resolution 8 --minibatch 3072
       --microbatch 4 --threads 1 --stabilize-kimg 6.144 --fade-kimg 6.144 --total-kimg 18.432 --tick-kimg 3.072)
train() {  # train OUT [flags...]: a 2-rank job in the background; $launcher is scripts/launch.sh's pid
    local out=$1
    shift
    scripts/launch.sh mpirun --allow-run-as-root --oversubscribe -np 2 --mca odls_base_sigkill_timeout 3 \
        "$progan" train "${flags[@]}" --out "$out" "$@" >"$out.log" 2>&1 &
    launcher=$!
}
finish() {  # finish DESCRIPTION: waits for the job (at most 90 s); its exit status in $status
    local deadline=$((SECONDS + 90))
    while kill -0 "$launcher" 2>/dev/null; do
        ((SECONDS < deadline)) || fail "$1: the job did not end within 90 s"
        sleep 0.1
    done
    wait "$launcher"
    status=$?
    launcher=
}
ticks() { [[ -s $1/metrics.jsonl ]] && wc -l <"$1/metrics.jsonl" || echo 0; }

train "$work/a"
finish "uninterrupted run"
((status == 0)) || fail "uninterrupted run: exit status $status: $(tail -3 "$work/a.log")"
step_seconds=$(sed -n 's/.*"tick_seconds":\([0-9.e-]*\).*/\1/p' "$work/a/metrics.jsonl" | sort -g | head -1)
echo "uninterrupted: 6 steps, the fastest in $step_seconds s"
awk -v s="$step_seconds" 'BEGIN { exit !(s >= 1) }' ||
    fail "steps of $step_seconds s: the check needs steps of a second or more to signal inside one"

# stop NAME SIGNAL WHO: signal WHO (job, mpirun or rank1) a second into the second step; the job ends
# with a stop checkpoint.
stop() {
    local name=$1 signal=$2 who=$3 target pid
    train "$work/$name"
    until (($(ticks "$work/$name") >= 1)); do
        kill -0 "$launcher" 2>/dev/null || fail "$name: the run ended before its first tick"
        sleep 0.05
    done
    sleep 1
    case $who in
    job) target=$launcher ;;
    mpirun) target=$(pgrep -P "$launcher") ;;
    rank1)
        for pid in $(pgrep -P "$(pgrep -P "$launcher")"); do
            tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=1 && target=$pid
        done
        ;;
    esac
    [[ -n ${target:-} ]] || fail "$name: no $who process found"
    kill -s "$signal" "$target"
    finish "$name"
    grep -q "stopped on request before step" "$work/$name.log" ||
        fail "$name: no stop message: $(tail -3 "$work/$name.log")"
    compgen -G "$work/$name/checkpoints/step-*.ckpt" >/dev/null || fail "$name: no checkpoint written"
    echo "SIG$signal to $who: exit $status, $(grep 'stopped on request' "$work/$name.log")"
}
# stop_and_resume NAME SIGNAL WHO: stop, exit 75, then the same command finishes byte-identical to the
# uninterrupted run.
stop_and_resume() {
    local name=$1 signal=$2 who=$3
    stop "$@"
    ((status == 75)) || fail "$name: SIG$signal to $who: exit status $status, not 75: $(tail -3 "$work/$name.log")"
    train "$work/$name"
    finish "$name resumed"
    ((status == 0)) || fail "$name: the resumed run: exit status $status: $(tail -3 "$work/$name.log")"
    grep -q "resuming from" "$work/$name.log" || fail "$name: the second run did not resume"
    cmp "$work/a/checkpoints/final.ckpt" "$work/$name/checkpoints/final.ckpt" ||
        fail "$name: the resumed run's final checkpoint differs from the uninterrupted run's"
    echo "SIG$signal to $who: resumed, final checkpoint byte-identical"
}
stop_and_resume term TERM job
stop_and_resume usr1 USR1 rank1
stop direct TERM mpirun
((status == 1 || status == 75)) || fail "direct: SIGTERM to mpirun: exit status $status, not 1 (OpenMPI 4.1) or 75"

# prepare: a signal while images are converted; no dataset and no temporary file remain.
mkdir -p "$work/p"
for signal in TERM HUP; do
    "$progan" prepare "$emoji" --out "$work/p/set.pgds" --resolution 64 >"$work/p.log" 2>&1 &
    pid=$!
    until compgen -G "$work/p/.set.pgds.*" >/dev/null; do
        kill -0 $pid 2>/dev/null || fail "prepare ended before writing"
        sleep 0.01
    done
    kill -s $signal $pid
    wait $pid
    status=$?
    ((status == 75)) || fail "prepare, SIG$signal: exit status $status, not 75: $(cat "$work/p.log")"
    [[ -z $(ls -A "$work/p") ]] || fail "prepare, SIG$signal: left $(ls -A "$work/p")"
    echo "prepare, SIG$signal: exit 75, $(cat "$work/p.log")"
done
