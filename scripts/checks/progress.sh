#!/usr/bin/env bash
# Progress on rank 0: on a terminal (a pty from `script`), one status line redrawn in place, also between
# ticks; into a pipe, one plain line per tick and no control characters. Under mpirun every rank writes
# to a pty of mpirun's, so there the terminal is mpirun's: piping mpirun must still give plain lines.
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"
mpirun=(mpirun --allow-run-as-root --oversubscribe -x OPENBLAS_NUM_THREADS=1 -np 2)
"$progan" prepare "$emoji" --out "$work/set.pgds" --resolution 16 >/dev/null || fail "prepare failed"
flags=(--dataset "$work/set.pgds" --preset tiny)

"${mpirun[@]}" "$progan" train "${flags[@]}" --out "$work/plain" >"$work/plain.log" 2>&1 || fail "training into a pipe failed"
ticks=$(wc -l <"$work/plain/metrics.jsonl")
lines=$(grep -cE '^tick [0-9]+  kimg [0-9.]+/1\.20  [0-9]+x[0-9]+ (stable|fade-in α=[0-9.]+)  d_loss -?[0-9.]+  g_loss -?[0-9.]+  [0-9.]+ img/s  ETA [0-9]+m[0-9]{2}s$' "$work/plain.log")
((lines == ticks)) || fail "$lines tick lines for $ticks ticks: $(cat "$work/plain.log")"
! grep -q $'\r' "$work/plain.log" || fail "carriage returns in piped output"
echo "mpirun into a pipe: $lines plain tick lines for $ticks ticks"
probe=$(grep -E '^timed for the ETA, ms per image: 4x4 [0-9.]+, 8x8 [0-9.]+, 16x16 [0-9.]+$' "$work/plain.log") ||
    fail "no line timing each resolution for the ETA: $(head -5 "$work/plain.log")"
echo "before the first step: $probe"

command -v script >/dev/null || skip "script (util-linux) is not installed"
# on_terminal NAME COMMAND...: trains on a fresh pty and checks the status line.
on_terminal() {
    local name=$1 log=$work/$1.log redraws
    shift
    script -qec "${*@Q} train ${flags[*]@Q} --out ${work@Q}/$name" /dev/null >"$log" 2>&1 ||
        fail "$name: training on a terminal failed: $(tail -3 "$log")"
    # The pty turns each newline into \r\n; those are not redraws.
    redraws=$(grep -o $'\r[^\r]*\e\\[K' "$log" | wc -l)
    ((redraws > ticks)) || fail "$name: $redraws status redraws for $ticks ticks: no updates between ticks"
    grep -q $'\rtick 12  kimg 1.20/1.20  16x16 stable  d_loss' "$log" || fail "$name: the last status line does not show the final tick"
    (($(grep -c 'tick [0-9]*  kimg' "$log") == 1)) || fail "$name: tick lines were printed on lines of their own"
    grep -q '^done: 150 steps' "$log" || fail "$name: the closing line is missing"
    echo "$name on a terminal: $redraws redraws of one status line for $ticks ticks"
}
on_terminal single env OPENBLAS_NUM_THREADS=1 "$progan"
on_terminal mpirun "${mpirun[@]}" "$progan"
