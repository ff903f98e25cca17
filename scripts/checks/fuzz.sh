#!/usr/bin/env bash
# Short fuzzing run of the four readers of untrusted files (PNG, prepared dataset, checkpoint, safetensors)
# and of the three ways settings come in (config JSON, a checkpoint's state, train's flags): 10 seconds each
# through scripts/fuzz.sh; fails if any finds a crash, sanitizer report, leak or
# timeout, or cannot be built. 10 s (15 until 2026-12) keeps the whole suite under 20 minutes on the slower of
# our 2-core machines, where it took 20m22s. Longer runs: scripts/fuzz.sh TARGET SECONDS.
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"

failed=()
for target in png dataset checkpoint safetensors config state flags; do
    output=$(scripts/fuzz.sh "$target" 10 2>&1)
    status=$?
    grep -E '^(fuzz |fuzz\.sh: [a-z]+ .*(failed|missing|not found|ERROR))|reproduce:|log:' <<<"$output" || echo "$output"
    ((status == 0)) || { ((status == 1)) || echo "$output" | tail -20; failed+=("$target"); }
done
((${#failed[@]} == 0)) || fail "fuzzing failed for: ${failed[*]} (crash inputs in .build-fuzz/crashes-<target>/)"
echo "fuzz: png, dataset, checkpoint, safetensors, config, state and flags ran 10 s each without findings"
