#!/usr/bin/env bash
# Short fuzzing run of the four readers of untrusted files (PNG, prepared dataset, checkpoint, safetensors):
# 20 seconds each through scripts/fuzz.sh; fails if any finds a crash, sanitizer report, leak or
# timeout, or cannot be built. Longer runs: scripts/fuzz.sh TARGET SECONDS.
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"

failed=()
for target in png dataset checkpoint safetensors; do
    output=$(scripts/fuzz.sh "$target" 20 2>&1)
    status=$?
    grep -E '^(fuzz |fuzz\.sh: [a-z]+ .*(failed|missing|not found|ERROR))|reproduce:|log:' <<<"$output" || echo "$output"
    ((status == 0)) || { ((status == 1)) || echo "$output" | tail -20; failed+=("$target"); }
done
((${#failed[@]} == 0)) || fail "fuzzing failed for: ${failed[*]} (crash inputs in .build-fuzz/crashes-<target>/)"
echo "fuzz: png, dataset, checkpoint and safetensors ran 20 s each without findings"
