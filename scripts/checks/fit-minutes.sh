#!/usr/bin/env bash
# `train --fit-minutes`: on 2 ranks, a run is given the whole kimg that fit the minutes on this machine,
# both ranks train that length (they would otherwise part at the end of the shorter), config.json records
# it with the ramp-down that ended with the run stretched to end with it, and the same command on the run
# directory keeps that length instead of fitting again. Bad values are one error line.
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"
train=(timeout 300 mpirun --allow-run-as-root --oversubscribe -np 2 -x OPENBLAS_NUM_THREADS=1
    "$progan" train --dataset "$emoji" --out "$work/run" --preset tiny --resolution 8 --config "$work/ramp.json")
echo '{"total_kimg": 1.2, "schedule": {"learning_rate_rampdown": {"start_kimg": 0.6, "end_kimg": 1.2, "final_fraction": 0.1}}}' \
    >"$work/ramp.json"

"${train[@]}" --fit-minutes 0.2 >"$work/first.log" 2>&1 || { cat "$work/first.log"; fail "the fitted run failed"; }
line=$(grep -- '^--fit-minutes 0.2: ' "$work/first.log") || fail "no line saying what was fitted"
echo "$line"
kimg=$(sed -E 's/^--fit-minutes 0.2: ([0-9]+)\.0 kimg train.*/\1/' <<<"$line")
[[ $kimg =~ ^[0-9]+$ && $kimg -ge 1 ]] || fail "not a whole kimg: $line"
python3 - "$work/run/config.json" "$kimg" <<'PY' || fail "config.json does not record the fitted length"
import json, sys
config, kimg = json.load(open(sys.argv[1])), float(sys.argv[2])
ramp = config["schedule"]["learning_rate_rampdown"]
assert config["total_kimg"] == kimg, config["total_kimg"]
assert ramp["end_kimg"] == kimg and ramp["start_kimg"] == round(kimg / 2, 1) and ramp["final_fraction"] == 0.1, ramp
PY
grep -q "^done: .* $kimg.0 kimg in " "$work/first.log" || fail "the run did not train $kimg kimg"

"${train[@]}" --fit-minutes 30 >"$work/again.log" 2>&1 || { cat "$work/again.log"; fail "the second start failed"; }
grep -q -- "^--fit-minutes: keeping the length of the run being resumed, $kimg.0 kimg" "$work/again.log" ||
    fail "the run directory's length was not kept: $(head -5 "$work/again.log")"

refused=("$progan" train --dataset "$emoji" --out "$work/refused" --preset tiny)
expect_error "--fit-minutes 0" "--fit-minutes 0.0 is out of range" "${refused[@]}" --fit-minutes 0
expect_error "--fit-minutes nan" "--fit-minutes nan is out of range" "${refused[@]}" --fit-minutes nan
expect_error "both lengths" "give --fit-minutes or --total-kimg, not both" "${refused[@]}" --fit-minutes 1 --total-kimg 1
[[ ! -e $work/refused ]] || fail "a refused run left a directory"
