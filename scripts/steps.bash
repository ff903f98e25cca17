# Sourced by scripts/test.sh and scripts/interop-test.sh (not run by itself): steps that print
# "=== NAME", then "PASS NAME (N s)" or "FAIL NAME (N s)", counted in $passed and $failed.
passed=0
failed=0

# run_step NAME COMMAND [ARGS...]
run_step() {
    local name=$1
    shift
    local started=$SECONDS
    echo "=== $name"
    if "$@"; then
        passed=$((passed + 1))
        echo "PASS $name ($((SECONDS - started)) s)"
    else
        failed=$((failed + 1))
        echo "FAIL $name ($((SECONDS - started)) s)"
    fi
}
