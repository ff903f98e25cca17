#!/usr/bin/env bash
# Commands write only under the paths they are given: `strace -f -y -e trace=%file` of a short training run
# (from an image folder, so the dataset is prepared too), a generate and an interpolate with --video, and
# every path opened for writing, created, renamed, linked, truncated or removed must lie under the given
# output paths or in a scratch directory of the command's own in $TMPDIR (progan-*-XXXXXX). Reads anywhere
# are fine. Character devices (/dev/null, a terminal) are not storage. `progan train` also starts MPI, whose
# runtime keeps a session directory in $TMPDIR (ompi.HOST.UID) and a segment in /dev/shm: allowed for it, as
# the library's own, and checked to be gone when the command has ended, like every scratch directory.
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"
command -v strace >/dev/null || skip "strace is not installed (scripts/setup.sh installs it)"
mkdir "$work/tmp" "$work/bin"
# A stand-in for ffmpeg, so that --video x.mp4 takes its scratch-frame path here: it only has to succeed, since
# ffmpeg itself is not progan's to audit. It writes the output file it is given (progan's temporary file).
printf '#!/bin/sh\nfor last; do :; done\necho video >"$last"\n' >"$work/bin/ffmpeg"
chmod +x "$work/bin/ffmpeg"

# traced LOG ALLOWED-PREFIX... -- COMMAND...: runs COMMAND under strace and fails on a write outside the prefixes.
traced() {
    local log=$1 allowed=()
    shift
    while [[ $1 != -- ]]; do allowed+=("$1"); shift; done
    shift
    TMPDIR=$work/tmp OPENBLAS_NUM_THREADS=1 PATH=$work/bin:$PATH \
        strace -f -qq -y -o "$log" -e trace=%file,truncate,ftruncate "$@" >"$log.out" 2>&1 ||
        fail "$(basename "$log"): $* failed: $(tail -2 "$log.out")"
    local writes
    writes=$(python3 - "$log" "${allowed[@]}" <<'EOF'
import os, re, sys
log, allowed = sys.argv[1], sys.argv[2:]
WRITE_FLAGS = re.compile(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC")
# A path argument as strace prints it: "path", or a directory descriptor 3</dir> followed by "name".
ARG = r'(?:(?:AT_FDCWD|\d+<(?P<dir{n}>[^>]*)>), )?"(?P<path{n}>[^"]*)"'
def path(m, n, cwd):
    p, d = m.group(f"path{n}"), m.group(f"dir{n}")
    base = d if d is not None else cwd
    return os.path.normpath(os.path.join(base, p))
def inside(p):
    # PREFIX* allows every path beginning with PREFIX; any other entry, the path and what lies under it.
    return any(p.startswith(a[:-1]) if a.endswith("*") else p == a or p.startswith(a + "/") for a in allowed)
cwd = os.getcwd()
bad = set()
for line in open(log):
    m = re.match(r"\d+\s+(\w+)\((.*)\)\s+= (-?\d+)", line)
    if not m or int(m.group(3)) < 0:
        continue
    call, args = m.group(1), m.group(2)
    targets = []
    if call in ("open", "openat", "openat2", "creat"):
        a = re.match(ARG.format(n=1), args)
        if a and (call == "creat" or WRITE_FLAGS.search(args)):
            targets.append(path(a, 1, cwd))
    elif call in ("mkdir", "mkdirat", "unlink", "unlinkat", "rmdir", "truncate", "symlink", "symlinkat"):
        # symlink's first argument is the link's content, its last the path it creates.
        last = ARG.format(n=1) + r'(?!.*")'
        a = re.search(last, args) if call.startswith("symlink") else re.match(ARG.format(n=1), args)
        if a:
            targets.append(path(a, 1, cwd))
    elif call in ("rename", "renameat", "renameat2", "link", "linkat"):
        a = re.match(ARG.format(n=1) + ", " + ARG.format(n=2), args)
        if a:
            targets += [path(a, 1, cwd), path(a, 2, cwd)]
    for t in targets:
        if not inside(t) and not (t.startswith("/dev/") and not t.startswith("/dev/shm")):
            bad.add(f"{call} {t}")
print("\n".join(sorted(bad)))
EOF
)
    [[ -z $writes ]] || fail "$(basename "$log") wrote outside ${allowed[*]}:"$'\n'"$writes"
    [[ -z $(ls -A "$work/tmp") ]] || fail "$(basename "$log"): $* left $(ls "$work/tmp") in TMPDIR"
    echo "$(basename "$log"): $(grep -cE 'O_CREAT|rename|unlink|mkdir' "$log") creating/renaming/removing calls," \
        "all under ${allowed[*]}"
}

# A file output is written through a temporary file beside it: .NAME.PID.RANDOM.tmp.
beside() { echo "$(dirname "$1")/.$(basename "$1").*"; }
echo '{"checkpoint_ticks": 1}' >"$work/often.json"
traced "$work/train.strace" "$work/run" "$work/tmp/ompi.*" "/dev/shm/open_mpi.*" -- "$progan" train --dataset "$emoji" --out "$work/run" --preset tiny \
    --resolution 8 --minibatch 16 --stabilize-kimg 0.064 --fade-kimg 0.064 --total-kimg 0.128 --tick-kimg 0.032 \
    --config "$work/often.json"
traced "$work/generate.strace" "$work/images" -- \
    "$progan" generate "$work/run/checkpoints/final.ckpt" --out "$work/images"
for video in walk.png walk.mp4; do
    traced "$work/interpolate-${video#*.}.strace" "$work/frames" "$work/$video" "$(beside "$work/$video")" \
        "$work/tmp/progan-frames-*" -- "$progan" interpolate "$work/run/checkpoints/final.ckpt" --out "$work/frames" \
        --video "$work/$video" --keyframes 2 --frames-per-keyframe 3 --size 8
done
