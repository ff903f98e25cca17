#!/usr/bin/env bash
# `train --fit-minutes`: on 2 ranks, a run is given the whole kimg that fit the minutes on this machine and
# the ramp-down that ended with the run is stretched to end with it; the end may move at tick ends, and both
# ranks end where the last move put it (they would otherwise part at the shorter length); config.json
# records it, and the same command on the run directory keeps it instead of fitting again. Bad values are
# one error line.
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"
train=(timeout 300 mpirun --allow-run-as-root --oversubscribe -np 2 -x OPENBLAS_NUM_THREADS=1
    "$progan" train --dataset "$emoji" --out "$work/run" --preset tiny --resolution 8 --config "$work/ramp.json")
echo '{"total_kimg": 1.2, "schedule": {"learning_rate_rampdown": {"start_kimg": 0.6, "end_kimg": 1.2, "final_fraction": 0.1}}}' \
    >"$work/ramp.json"

"${train[@]}" --fit-minutes 0.2 >"$work/first.log" 2>&1 || { cat "$work/first.log"; fail "the fitted run failed"; }
line=$(grep -- '^--fit-minutes 0.2: ' "$work/first.log") || fail "no line saying what was fitted"
echo "$line"
fitted=$(sed -E 's/^--fit-minutes 0.2: ([0-9]+)\.0 kimg train.*/\1/' <<<"$line")
[[ $fitted =~ ^[0-9]+$ && $fitted -ge 1 ]] || fail "not a whole kimg: $line"
# The end may move at tick ends, to what the time left fits at the pace measured (a line says so).
grep -- '^--fit-minutes: at the pace so far' "$work/first.log"
kimg=$(sed -nE 's/^done: [0-9]+ steps, ([0-9]+)\.0 kimg in .*/\1/p' "$work/first.log")
[[ -n $kimg ]] || fail "the run did not end at a whole kimg: $(grep '^done' "$work/first.log")"
moved=$(sed -nE 's/^--fit-minutes: at the pace so far the time left fits ([0-9]+)\.0 kimg.*/\1/p' "$work/first.log" | tail -1)
[[ ${moved:-$fitted} == "$kimg" ]] || fail "ended at $kimg kimg, not at the last length chosen (${moved:-$fitted})"
python3 - "$work/run/config.json" "$kimg" "$fitted" <<'PY' || fail "config.json does not record the length and ramp-down"
import json, sys
config, kimg, fitted = json.load(open(sys.argv[1])), float(sys.argv[2]), float(sys.argv[3])
ramp = config["schedule"]["learning_rate_rampdown"]
assert config["total_kimg"] == kimg, config["total_kimg"]
# The ramp-down is stretched once, with the first fit: it is part of the recipe.
assert ramp["end_kimg"] == fitted and ramp["start_kimg"] == round(fitted / 2, 1) and ramp["final_fraction"] == 0.1, ramp
PY

"${train[@]}" --fit-minutes 30 >"$work/again.log" 2>&1 || { cat "$work/again.log"; fail "the second start failed"; }
grep -q -- "^--fit-minutes: keeping the length of the run being resumed, $kimg.0 kimg" "$work/again.log" ||
    fail "the run directory's length was not kept: $(head -5 "$work/again.log")"

refused=("$progan" train --dataset "$emoji" --out "$work/refused" --preset tiny)
expect_error "--fit-minutes 0" "--fit-minutes 0.0 is out of range" "${refused[@]}" --fit-minutes 0
expect_error "--fit-minutes nan" "--fit-minutes nan is out of range" "${refused[@]}" --fit-minutes nan
expect_error "both lengths" "give --fit-minutes or --total-kimg, not both" "${refused[@]}" --fit-minutes 1 --total-kimg 1
[[ ! -e $work/refused ]] || fail "a refused run left a directory"
