# Sourced by every check (not a check itself: scripts/test.sh runs *.sh): works from the repository
# root with the release binary, a scratch directory removed on exit, and `fail MESSAGE` to stop.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
progan=$PWD/.build/release/progan
emoji=/usr/share/javascript/emojify.js/images/emoji
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "$*"; exit 1; }

# expect_error DESCRIPTION EXPECTED-TEXT COMMAND...: the command fails, and it prints exactly one error
# line (`error: ...`) naming the problem. Under mpirun, OpenMPI's own notices about the failed job are
# interleaved with it in no fixed order, so the line is found by its prefix.
expect_error() {
    local description=$1 expected=$2 output status
    shift 2
    output=$("$@" 2>&1 >/dev/null)
    status=$?
    ((status != 0)) || fail "$description: exit status 0"
    (($(grep -c '^error: ' <<<"$output") == 1)) || fail "$description: not exactly one error line: $output"
    local first
    first=$(grep '^error: ' <<<"$output")
    grep -qF -- "$expected" <<<"$first" || fail "$description: '$first' does not mention '$expected'"
    echo "$description -> $first"
}
