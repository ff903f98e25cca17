#!/usr/bin/env bash
# The collective watchdog (--collective-timeout): a rank of a 2-rank run stopped with SIGSTOP mid-run, first
# rank 1 and then rank 0 (which gathers the arrivals), ends the job within the timeout plus a few seconds,
# with a non-zero status and a message naming that rank and its host; meanwhile the rank left waiting
# sleeps instead of spinning. A rank paused for 2 s and resumed is named on the tick line as the slowest,
# and the run finishes. mpi-check --stop-rank does the same on 3 ranks, at a barrier, with a 3 s timeout.
# Timeouts outside 1 s to a week are refused.
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"
mpirun=(mpirun --allow-run-as-root --oversubscribe -x OPENBLAS_NUM_THREADS=1)
timeout=5

for bad in 0 0.5 inf nan 1e9; do
    expect_error "--collective-timeout $bad" "must be between 1 and 604800 (a week)" \
        "$progan" train --dataset "$emoji" --out "$work/bad" --preset tiny --collective-timeout $bad
done
[[ ! -e $work/bad ]] || fail "a refused timeout left a run directory"

for rank in 1 0; do
    started=$(date +%s%N)
    output=$(timeout --kill-after=5 30 "${mpirun[@]}" -np 3 .build/release/mpi-check --stop-rank $rank 2>&1)
    status=$?
    elapsed_ms=$((($(date +%s%N) - started) / 1000000))
    ((status != 0 && status != 124 && status != 137)) || fail "mpi-check --stop-rank $rank: exit status $status"
    ((elapsed_ms <= 8000)) || fail "mpi-check --stop-rank $rank: took $elapsed_ms ms"
    message=$(grep -E '^\[rank [0-9]+\] watchdog: ' <<<"$output" | head -1)
    grep -qE "rank $rank \(" <<<"$message" || fail "mpi-check --stop-rank $rank: no watchdog message naming it: $output"
    echo "mpi-check --stop-rank $rank: ended after $elapsed_ms ms: $message"
done

"$progan" prepare "$emoji" --out "$work/set.pgds" --resolution 8 >/dev/null || fail "prepare failed"
flags=(--dataset "$work/set.pgds" --preset tiny --resolution 8 --stabilize-kimg 0.08 --fade-kimg 0.08
       --tick-kimg 0.04 --collective-timeout $timeout)

# rank_pid LAUNCHER RANK: the PID of that rank among mpirun's children, by the rank OpenMPI put in its environment.
rank_pid() {
    local pid
    for pid in $(pgrep -P "$1"); do
        tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2" && echo "$pid"
    done
}

# cpu_ticks PID: user + system clock ticks the process has used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# start_run NAME EXTRA-FLAGS...: a 2-rank run in the background; sets $launcher and waits for its first tick.
start_run() {
    local name=$1
    shift
    log=$work/$name.log
    "${mpirun[@]}" -np 2 "$progan" train "${flags[@]}" --out "$work/$name" "$@" >"$log" 2>&1 &
    launcher=$!
    for ((i = 0; i < 120; i++)); do
        grep -qs '^tick 1 ' "$log" && return
        kill -0 "$launcher" 2>/dev/null || fail "$name: the run ended before its first tick: $(tail -3 "$log")"
        sleep 0.25
    done
    fail "$name: no tick within 30 s"
}

stall() {
    local rank=$1 other=$((1 - $1)) stopped waiting status started elapsed_ms ticks
    start_run "stall$rank" --total-kimg 1000
    stopped=$(rank_pid "$launcher" "$rank")
    waiting=$(rank_pid "$launcher" "$other")
    [[ -n $stopped && -n $waiting ]] || fail "rank $rank: cannot find the ranks' PIDs under mpirun $launcher"
    started=$(date +%s%N)
    kill -STOP "$stopped"
    # Past the step in progress and well before the deadline, the other rank waits in a collective.
    sleep 2
    ticks=$(cpu_ticks "$waiting")
    sleep 2
    ticks=$(($(cpu_ticks "$waiting") - ticks))
    wait "$launcher"
    status=$?
    elapsed_ms=$((($(date +%s%N) - started) / 1000000))
    kill -0 "$stopped" 2>/dev/null && kill -KILL "$stopped"
    ((status != 0)) || fail "rank $rank stopped: exit status 0"
    ((elapsed_ms <= (timeout + 5) * 1000)) || fail "rank $rank stopped: the job took $elapsed_ms ms to end"
    # 2 s of waiting at 100% CPU would be 2 x CLK_TCK (200) ticks.
    ((ticks <= 40)) || fail "rank $other used $ticks clock ticks in 2 s while waiting for rank $rank"
    local message
    message=$(grep -E '^\[rank [0-9]+\] watchdog: ' "$log" | head -1)
    grep -qE "rank $rank \($(hostname -s)[^)]*\)" <<<"$message" ||
        fail "rank $rank stopped: no watchdog message naming it: $(tail -5 "$log")"
    grep -qF -- "--collective-timeout" <<<"$message" || fail "the message does not say which setting to change"
    echo "rank $rank stopped: job ended after $elapsed_ms ms (status $status), rank $other used $ticks ticks in 2 s:"
    echo "  $message"
}

stall 1
stall 0

# Long enough that the pause lands inside a tick on a fast machine (0.4 kimg once ended within the poll interval).
start_run lag --total-kimg 6
paused=$(rank_pid "$launcher" 1)
kill -STOP "$paused"
sleep 2
kill -CONT "$paused"
wait "$launcher" || fail "the run with a paused rank failed: $(tail -3 "$log")"
line=$(grep -E '^tick [0-9]+ .*slowest: rank 1 \(' "$log" | head -1)
[[ -n $line ]] || fail "no tick line names rank 1 as the slowest: $(grep '^tick' "$log")"
echo "rank 1 paused for 2 s: $line"
