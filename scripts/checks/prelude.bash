# Sourced by every check (not a check itself: scripts/test.sh runs *.sh): works from the repository
# root with the release binary, a scratch directory removed on exit, and `fail MESSAGE` to stop.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
progan=$PWD/.build/release/progan
emoji=/usr/share/javascript/emojify.js/images/emoji
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "$*"; exit 1; }
