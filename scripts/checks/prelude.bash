# Sourced by every check (not a check itself: scripts/test.sh runs *.sh): works from the repository
# root with the release binary, a scratch directory removed on exit, and `fail MESSAGE` to stop.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# PROGAN_BINARY runs a check against another build (an older commit, to show that a check can fail).
progan=${PROGAN_BINARY:-$PWD/.build/release/progan}
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

# train_tiny RUN_DIR [FLAGS...]: a `tiny` run from the emoji folder (4 -> 16, 12 ticks, about 8 s).
train_tiny() {
    local run=$1
    shift
    OPENBLAS_NUM_THREADS=1 "$progan" train --dataset "$emoji" --out "$run" --preset tiny "$@" >"$work/train.log" 2>&1 ||
        fail "training $run failed: $(tail -3 "$work/train.log")"
}

# skip REASON: ends a check that cannot run here, loudly, without failing it.
skip() {
    echo "*** SKIPPED $(basename "$0" .sh): $* ***"
    exit 0
}

# use_python PACKAGE...: sets $python to the interpreter of .venv-checks (kept between runs, ignored by git)
# after installing the packages from PyPI; skips the check when they cannot be installed.
use_python() {
    local venv=$PWD/.venv-checks
    [[ -x $venv/bin/python ]] || python3 -m venv "$venv" >"$work/venv.log" 2>&1 || skip "cannot create $venv: $(tail -1 "$work/venv.log")"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@" >"$work/pip.log" 2>&1 ||
        skip "pip cannot install $*: $(tail -1 "$work/pip.log")"
    python=$venv/bin/python
}

# patched_copy FROM TO OFFSET BYTES: TO is a copy of FROM with BYTES (printf escapes, e.g. '\xff') written
# over it at OFFSET: a damaged file made from a good one.
patched_copy() {
    cp "$1" "$2"
    printf "$4" | dd of="$2" bs=1 seek="$3" conv=notrunc 2>/dev/null
}
