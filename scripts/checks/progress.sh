#!/usr/bin/env bash
# Progress on rank 0: on a terminal (a pty from `script`), one status line redrawn in place, also between
# ticks; into a pipe, one plain line per tick and no control characters.
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"
OPENBLAS_NUM_THREADS=1 "$progan" train --dataset "$emoji" --out "$work/plain" --preset tiny >"$work/plain.log" 2>&1 ||
    fail "training into a pipe failed"
ticks=$(wc -l <"$work/plain/metrics.jsonl")
lines=$(grep -cE '^tick [0-9]+  kimg [0-9.]+/1\.20  [0-9]+x[0-9]+ (stable|fade-in α=[0-9.]+)  d_loss -?[0-9.]+  g_loss -?[0-9.]+  [0-9.]+ img/s  ETA [0-9]+m[0-9]{2}s$' "$work/plain.log")
((lines == ticks)) || fail "$lines tick lines for $ticks ticks: $(cat "$work/plain.log")"
! grep -q $'\r' "$work/plain.log" || fail "carriage returns in piped output"
echo "pipe: $lines plain tick lines for $ticks ticks"

command -v script >/dev/null || skip "script (util-linux) is not installed"
command=(env OPENBLAS_NUM_THREADS=1 "$progan" train --dataset "$emoji" --out "$work/tty" --preset tiny)
script -qec "${command[*]@Q}" /dev/null >"$work/tty.log" 2>&1 || fail "training on a terminal failed: $(tail -3 "$work/tty.log")"
redraws=$(grep -o $'\r[^\r]*\e\\[K' "$work/tty.log" | wc -l)
# The pty turns each newline into \r\n; those are not redraws.
((redraws > ticks)) || fail "$redraws status redraws for $ticks ticks: no updates between ticks"
grep -q $'\rtick 12  kimg 1.20/1.20  16x16 stable  d_loss' "$work/tty.log" || fail "the last status line does not show the final tick"
(($(grep -c 'tick [0-9]*  kimg' "$work/tty.log") == 1)) || fail "tick lines were printed on lines of their own on a terminal"
grep -q '^done: 150 steps' "$work/tty.log" || fail "the closing line is missing"
echo "terminal: $redraws redraws of one status line for $ticks ticks"
