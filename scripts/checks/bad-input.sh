#!/usr/bin/env bash
# One check per row of the README's bad-input table: each case fails with a non-zero exit and a first
# line naming the file or flag and the problem, and leaves no half-written output.
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"
mpirun=(mpirun --allow-run-as-root --oversubscribe -x OPENBLAS_NUM_THREADS=1)

mkdir "$work/unusable"
printf 'not a png' >"$work/unusable/a.png"
expect_error "only unusable images" "no usable images" "$progan" prepare "$work/unusable" --out "$work/none.pgds"

"$progan" prepare "$emoji" --out "$work/set.pgds" --resolution 8 >/dev/null || fail "prepare failed"
flags=(--preset tiny --resolution 8 --stabilize-kimg 0.016 --fade-kimg 0.016 --total-kimg 0.048 --tick-kimg 0.016)
"$progan" train --dataset "$work/set.pgds" --out "$work/run" "${flags[@]}" >/dev/null || fail "training failed"
checkpoint=$work/run/checkpoints/final.ckpt

size=$(stat -c %s "$work/set.pgds")
head -c $((size / 2)) "$work/set.pgds" >"$work/truncated.pgds"
expect_error "truncated dataset" "truncated.pgds: " "$progan" train --dataset "$work/truncated.pgds" --out "$work/r1" "${flags[@]}"
patched_copy "$work/set.pgds" "$work/version.pgds" 8 '\x07'
expect_error "dataset of another version" "built by format version 7" "$progan" train --dataset "$work/version.pgds" --out "$work/r2" "${flags[@]}"
expect_error "missing dataset" "missing.pgds: no such file or directory" "$progan" train --dataset "$work/missing.pgds" --out "$work/r3" "${flags[@]}"

head -c 5000 "$checkpoint" >"$work/truncated.ckpt"
expect_error "truncated checkpoint" "truncated.ckpt: truncated" "$progan" generate "$work/truncated.ckpt" --out "$work/g1"
patched_copy "$checkpoint" "$work/flipped.ckpt" 6000 '\xff'
expect_error "bit-flipped checkpoint" "fails its checksum" "$progan" generate "$work/flipped.ckpt" --out "$work/g2"
patched_copy "$checkpoint" "$work/version.ckpt" 8 '\x09'
expect_error "checkpoint of another version" "checkpoint format version 9" "$progan" generate "$work/version.ckpt" --out "$work/g3"
expect_error "checkpoint of another configuration" "written by a run with a different recipe (loss.kind" \
    "$progan" train --dataset "$work/set.pgds" --out "$work/r4" "${flags[@]}" --loss hinge --resume "$checkpoint"
for output in g1 g2 g3 r1 r2 r3; do [[ ! -e $work/$output ]] || fail "a failed command left $output behind"; done

expect_error "unknown flag" "Unknown option '--bogus'" "$progan" train --dataset "$work/set.pgds" --out "$work/r5" --bogus
expect_error "zero minibatch" "minibatch_default 0 is out of range" "$progan" train --dataset "$work/set.pgds" --out "$work/r5" --minibatch 0
expect_error "negative length" "total_kimg -1.0 is out of range" "$progan" train --dataset "$work/set.pgds" --out "$work/r5" --total-kimg=-1
expect_error "zero images" "--images must be positive" "$progan" generate "$checkpoint" --out "$work/g4" --images 0
expect_error "resolution not a power of two" "resolution 48 is not a power of two" "$progan" train --dataset "$work/set.pgds" --out "$work/r5" --resolution 48
expect_error "minibatch vs micro-batch" "at 4x4: minibatch 6 is not divisible by the micro-batch 4" \
    "$progan" train --dataset "$work/set.pgds" --out "$work/r5" "${flags[@]}" --minibatch 6
expect_error "micro-batch vs stddev group" "micro-batch 6 is not divisible by the minibatch-stddev group size 4" \
    "${mpirun[@]}" -np 3 "$progan" train --dataset "$work/set.pgds" --out "$work/r5" "${flags[@]}" --minibatch 12 \
    --microbatch 6
[[ ! -e $work/r5 ]] || fail "a rejected configuration left a run directory"

printf '# a host that does not exist\nno-such-host.invalid slots=1\n' >"$work/hosts"
expect_error "hostfile with an unknown host" "no-such-host.invalid" env HOSTFILE="$work/hosts" RANKS=1 scripts/train.sh --dataset "$work/set.pgds" --out "$work/r6"
scripts/check-hostfile.sh hostfiles/multihost-test || fail "a hostfile of IP addresses was refused"
printf 'localhost slots=2\n127.0.0.1 max_slots=1 # a comment\n::1\n' >"$work/local-hosts"
scripts/check-hostfile.sh "$work/local-hosts" || fail "a hostfile of local names and addresses was refused"
touch "$work/globbed"  # a `*` expanding to file names would make this one a host
printf 'localhost slots=1\n* slots=1\n' >"$work/star-hosts"
expect_error "hostfile with a *" "star-hosts:2: '*' is not a host name" scripts/check-hostfile.sh "$work/star-hosts"
printf '\n# nodes\nlocalhost slots=two\n' >"$work/bad-slots"
expect_error "hostfile line of bad syntax" "bad-slots:3: 'slots=two' is not slots=N" scripts/check-hostfile.sh "$work/bad-slots"
