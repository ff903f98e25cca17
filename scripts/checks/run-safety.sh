#!/usr/bin/env bash
# Storage safety, one test per row of the README's "Bad input" table: output paths that name nothing or the
# root directory are refused by every command that writes; a run directory has one owner; temporary files
# of killed writers are removed at the next start; a checkpoint that cannot be read is never deleted (a
# damaged one is moved aside, a newer or unopenable one stops the run, later ones given up by --resume none
# are moved to checkpoints/abandoned/); rotation deletes only checkpoints;
# warnings go to standard error; interpolate's scratch frames are removed on error and on SIGTERM.
# Every row runs (each in a subshell, so `fail` ends only its row) and the failing rows are listed at the end:
# PROGAN_BINARY=OLD/.build/release/progan shows which rows an older build fails.
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"
# Background processes, by PID file, so that a row's subshell can register them.
trap 'for file in "$work"/*.pid; do [[ -e $file ]] && kill -9 "$(cat "$file")" 2>/dev/null; done; rm -rf "$work"' EXIT

"$progan" prepare "$emoji" --out "$work/set.pgds" --resolution 8 >/dev/null 2>&1 || fail "prepare failed"
flags=(--dataset "$work/set.pgds" --preset tiny --resolution 8 --minibatch 16 --stabilize-kimg 0.128
       --fade-kimg 0.128 --tick-kimg 0.064 --config "$work/often.json")
echo '{"checkpoint_ticks": 1, "keep_checkpoints": 2}' >"$work/often.json"
train() { OPENBLAS_NUM_THREADS=1 "$progan" train "${flags[@]}" "$@"; }
train --out "$work/run" --total-kimg 0.32 >/dev/null 2>&1 || fail "the first run failed"
checkpoint=$work/run/checkpoints/final.ckpt

# Output paths naming nothing or the root directory. As root they run without the right to write into /,
# so that a build that does not refuse them fails on the permission instead of filling /.
unprivileged=()
if ((EUID == 0)); then
    chmod 755 "$work"
    unprivileged=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi
output_paths() {
    for out in "" / // /. /.. "/tmp/../"; do
        expect_error "train --out '$out'" "--out '$out'" "${unprivileged[@]}" "$progan" train "${flags[@]}" --out "$out"
    done
    expect_error "generate --out ''" "--out ''" "${unprivileged[@]}" "$progan" generate "$checkpoint" --out ""
    expect_error "generate --out /" "--out '/'" "${unprivileged[@]}" "$progan" generate "$checkpoint" --out /
    expect_error "interpolate --out ''" "--out ''" "${unprivileged[@]}" "$progan" interpolate "$checkpoint" --out ""
    expect_error "interpolate --video ''" "--video ''" "${unprivileged[@]}" "$progan" interpolate "$checkpoint" --video ""
    expect_error "export --out ''" "--out ''" "${unprivileged[@]}" "$progan" export "$checkpoint" --out ""
    expect_error "prepare --out ''" "--out ''" "${unprivileged[@]}" "$progan" prepare "$emoji" --out ""
    expect_error "report --out ''" "--out ''" "${unprivileged[@]}" "$progan" report "$work/run" --out ""
    expect_error "timelapse --out ''" "--out ''" "${unprivileged[@]}" "$progan" timelapse "$work/run" --out ""
    expect_error "import --out ''" "--out ''" "${unprivileged[@]}" "$progan" import "$work/model.safetensors" --out ""
}

# One owner: a second run on a directory in use fails at once, naming the first's host and PID.
one_owner() {
    OPENBLAS_NUM_THREADS=1 "$progan" train "${flags[@]}" --out "$work/owned" --total-kimg 50 >"$work/owner.log" 2>&1 &
    owner=$!
    echo "$owner" >"$work/owner.pid"
    until grep -q "training to" "$work/owner.log"; do
        kill -0 "$owner" 2>/dev/null || fail "the owning run ended early: $(tail -2 "$work/owner.log")"
        sleep 0.1
    done
    expect_error "second run on the same --out" "in use by host $(hostname) pid $owner" \
        timeout 60 "$progan" train "${flags[@]}" --out "$work/owned" --total-kimg 0.064
    kill -9 "$owner"
    wait "$owner" 2>/dev/null
    echo "the lock went with its owner's death: $(grep -c . "$work/owned/.lock") line in $work/owned/.lock"
}

# Temporary files of writers killed mid-write (their PID is gone) are removed at the next start, on stderr.
stale_temporaries() {
    mkdir -p "$work/owned/samples" "$work/owned/checkpoints"
    sh -c 'exit 0' &
    dead=$!
    wait "$dead"
    temporaries=("$work/owned/.metrics.jsonl.$dead.1f.tmp" "$work/owned/samples/.tick-000001.png.$dead.2e.tmp"
                 "$work/owned/checkpoints/.step-000000004.ckpt.$dead.3d.tmp")
    touch "${temporaries[@]}" "$work/owned/checkpoints/.keep.tmp"
    train --out "$work/owned" --total-kimg 0.128 >"$work/stdout.log" 2>"$work/stderr.log" ||
        fail "the run after a kill failed: $(tail -2 "$work/stderr.log")"
    for temporary in "${temporaries[@]}"; do [[ ! -e $temporary ]] || fail "stale temporary $temporary survived"; done
    [[ -e $work/owned/checkpoints/.keep.tmp ]] || fail "a file not named like a temporary file was removed"
    grep -qE "removed [0-9]+ temporary files left by an interrupted run: .*checkpoints/.step-000000004.ckpt.$dead.3d.tmp" \
        "$work/stderr.log" ||
        fail "the removal was not reported on stderr: $(cat "$work/stderr.log")"
    echo "stale temporaries -> $(grep removed "$work/stderr.log")"
}

# Resume never destroys what it could not read. Fingerprint: every file but the lock (which names its holder).
fingerprint() { (cd "$1" && find . -path ./.lock -prune -o -print0 | sort -z | xargs -0 md5sum 2>&1 | sort); }
newest=$(find "$work/run/checkpoints" -maxdepth 1 -name 'step-*.ckpt' | sort | tail -1)
newer_format_kept() {
    cp "$newest" "$work/intact.ckpt"
    printf '\x02' | dd of="$newest" bs=1 seek=8 conv=notrunc 2>/dev/null  # format version 2, checksums intact
    before=$(fingerprint "$work/run")
    expect_error "--resume auto, newest checkpoint of a newer format" "format version 2" \
        train --out "$work/run" --total-kimg 0.64
    [[ $before == "$(fingerprint "$work/run")" ]] || fail "a run that could not resume changed the run directory"
    cp "$work/intact.ckpt" "$newest"
}

unopenable_kept() {
    mkdir "$work/run/checkpoints/step-999999999.ckpt"
    before=$(fingerprint "$work/run")
    expect_error "--resume auto, a directory named like the newest checkpoint" "is a directory" \
        train --out "$work/run" --total-kimg 0.64
    [[ -d $work/run/checkpoints/step-999999999.ckpt && $before == "$(fingerprint "$work/run")" ]] ||
        fail "a run that could not resume changed the run directory"
    rmdir "$work/run/checkpoints/step-999999999.ckpt"
    # Unreadable for a permission error (root reads anything: as root, the run goes to an unprivileged user).
    cp -a "$work/run" "$work/denied"
    chmod 000 "$(find "$work/denied/checkpoints" -maxdepth 1 -name 'step-*.ckpt' | sort | tail -1)"
    if ((EUID == 0)); then chown -R 65534:65534 "$work/denied"; fi
    before=$(fingerprint "$work/denied")
    expect_error "--resume auto, newest checkpoint unreadable" "cannot open: Permission denied" \
        "${unprivileged[@]}" env OPENBLAS_NUM_THREADS=1 "$progan" train "${flags[@]}" --out "$work/denied" \
        --total-kimg 0.64
    [[ $before == "$(fingerprint "$work/denied")" ]] || fail "a run that could not resume changed the run directory"
}

# A truncated newest checkpoint is moved aside, reported on stderr, and the one before it resumed.
damaged_moved_aside() {
    previous=$(find "$work/run/checkpoints" -maxdepth 1 -name 'step-*.ckpt' | sort | tail -2 | head -1)
    truncate -s 1000 "$newest"
    train --out "$work/run" --total-kimg 0.384 >"$work/stdout.log" 2>"$work/stderr.log" ||
        fail "resume past a truncated checkpoint failed: $(tail -2 "$work/stderr.log")"
    damaged=$work/run/checkpoints/damaged/$(basename "$newest")
    [[ $(stat -c %s "$damaged" 2>/dev/null) == 1000 ]] ||
        fail "the truncated checkpoint was not kept in checkpoints/damaged/"
    grep -q "skipping unusable checkpoint: $newest.*moved to $damaged" "$work/stderr.log" ||
        fail "the damaged checkpoint was not reported on stderr: $(cat "$work/stderr.log")"
    grep -q "skipping" "$work/stdout.log" && fail "the warning went to stdout"
    grep -q "resuming from $previous" "$work/stdout.log" || fail "did not resume from $previous"
    echo "truncated newest checkpoint -> $(grep skipping "$work/stderr.log")"
}

# Rotation (keep 2 of 5) deletes older checkpoints, and no file that is not named exactly like one.
rotation_only_checkpoints() {
    local others=(step-000000001.ckpt.notes notes.txt step-1.ckpt)
    mkdir -p "$work/rotated/checkpoints"
    (cd "$work/rotated/checkpoints" && touch "${others[@]}")
    train --out "$work/rotated" --total-kimg 0.32 >"$work/rotated.log" 2>&1 ||
        fail "the run beside other files failed: $(tail -2 "$work/rotated.log")"
    for other in "${others[@]}"; do
        [[ -e $work/rotated/checkpoints/$other ]] || fail "checkpoint rotation deleted $other"
    done
    (($(find "$work/rotated/checkpoints" -name 'step-?????????.ckpt' | wc -l) == 2)) || fail "rotation did not keep 2"
    echo "rotation kept 2 checkpoints and ${others[*]}"
}

# --resume none keeps the abandoned run's step checkpoints, byte for byte, in checkpoints/abandoned/.
fresh_start_keeps_checkpoints() {
    train --out "$work/restarted" --total-kimg 0.32 >/dev/null 2>&1 || fail "the first run failed"
    local before after
    before=$(cd "$work/restarted/checkpoints" && md5sum step-*.ckpt)
    [[ -n $before ]] || fail "the first run left no step checkpoints"
    train --out "$work/restarted" --total-kimg 0.064 --resume none >"$work/restarted.log" 2>&1 ||
        fail "--resume none failed: $(tail -2 "$work/restarted.log")"
    after=$(cd "$work/restarted/checkpoints/abandoned" && md5sum step-*.ckpt)
    [[ $before == "$after" ]] || fail "checkpoints/abandoned/ holds $after, not $before"
    grep -q "moved 2 checkpoint(s) of later steps to $work/restarted/checkpoints/abandoned" "$work/restarted.log" ||
        fail "the move was not reported: $(cat "$work/restarted.log")"
    echo "--resume none -> $(grep moved "$work/restarted.log")"
}

# Warnings on stderr: a skipped image is not in the progress on stdout.
warnings_on_stderr() {
    mkdir "$work/images"
    cp "$emoji"/smile.png "$emoji"/heart.png "$work/images/" && echo "not a png" >"$work/images/bad.png"
    "$progan" prepare "$work/images" --out "$work/small.pgds" >"$work/stdout.log" 2>"$work/stderr.log" ||
        fail "prepare failed"
    grep -q "skipped $work/images/bad.png" "$work/stderr.log" && ! grep -q skipped "$work/stdout.log" ||
        fail "the skipped image was not reported on stderr alone"
    echo "skipped image -> $(cat "$work/stderr.log")"
}

# interpolate --video x.mp4 keeps its frames in a scratch directory of TMPDIR, removed when encoding fails
# and when SIGTERM stops the walk. A stand-in ffmpeg fails (or the walk is long enough to be stopped).
scratch_frames_removed() {
    mkdir "$work/bin" "$work/tmp"
    printf '#!/bin/sh\necho "encoder exploded" >&2\nexit 3\n' >"$work/bin/ffmpeg"
    chmod +x "$work/bin/ffmpeg"
    PATH=$work/bin:$PATH TMPDIR=$work/tmp "$progan" interpolate "$checkpoint" --video "$work/walk.mp4" --keyframes 2 \
        --frames-per-keyframe 2 --size 8 >/dev/null 2>&1 && fail "interpolate succeeded with a failing ffmpeg"
    [[ -z $(ls -A "$work/tmp") ]] || fail "interpolate left $(ls "$work/tmp") in TMPDIR after an error"
    PATH=$work/bin:$PATH TMPDIR=$work/tmp "$progan" interpolate "$checkpoint" --video "$work/walk.mp4" --keyframes 400 \
        --frames-per-keyframe 400 --size 8 >/dev/null 2>&1 &
    walker=$!
    echo "$walker" >"$work/walker.pid"
    until compgen -G "$work/tmp/progan-frames-*/frame-000010.png" >/dev/null; do
        kill -0 "$walker" 2>/dev/null || fail "interpolate ended early"
        sleep 0.05
    done
    kill -TERM "$walker"
    wait "$walker"
    [[ -z $(ls -A "$work/tmp") ]] || fail "interpolate left $(ls "$work/tmp") in TMPDIR after SIGTERM"
    [[ ! -e $work/walk.mp4 ]] || fail "interpolate wrote a video after SIGTERM"
    echo "interpolate --video: scratch frames removed after a failed encoder and after SIGTERM"
}

failed=()
for row in output_paths one_owner stale_temporaries newer_format_kept unopenable_kept damaged_moved_aside \
    rotation_only_checkpoints fresh_start_keeps_checkpoints warnings_on_stderr scratch_frames_removed; do
    ("$row") || { echo "FAILED: $row"; failed+=("$row"); }
done
((${#failed[@]} == 0)) || fail "${#failed[@]} of 10 rows failed: ${failed[*]}"
