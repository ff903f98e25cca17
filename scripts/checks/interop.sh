#!/usr/bin/env bash
# Export and import without PyTorch: a run's networks go out as safetensors (--net all) and come back as
# a run directory holding the same weights, which `progan train` continues (on 2 ranks); the pgp
# architecture trains byte-identically on 1 and 2 ranks; every malformed or unsuitable file is one error
# line naming it, with a non-zero exit and no output left behind.
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"
mpirun=(mpirun --allow-run-as-root --hostfile hostfiles/localhost -np 2 -x OPENBLAS_NUM_THREADS=1)

"$progan" prepare "$emoji" --out "$work/set.pgds" --resolution 8 >/dev/null || fail "prepare failed"
flags=(--preset tiny --resolution 8 --stabilize-kimg 0.016 --fade-kimg 0.016 --total-kimg 0.048 --tick-kimg 0.016)
OPENBLAS_NUM_THREADS=1 "$progan" train --dataset "$work/set.pgds" --out "$work/run" "${flags[@]}" >/dev/null || fail "training failed"
checkpoint=$work/run/checkpoints/final.ckpt

# Round trip: export -> import -> export gives the same tensor bytes (the data after the header).
"$progan" export "$checkpoint" --out "$work/all.safetensors" --net all --images 0 >/dev/null || fail "export failed"
"$progan" import "$work/all.safetensors" --out "$work/imported" --preset tiny >"$work/import.log" || fail "import failed: $(cat "$work/import.log")"
"$progan" export "$work/imported/checkpoints/step-000000000.ckpt" --out "$work/again.safetensors" --net all --images 0 \
    >/dev/null \
    || fail "export of the imported checkpoint failed"
data_bytes() { python3 -c 'import struct, sys; b = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", b[:8])[0]; sys.stdout.buffer.write(b[8 + n:])' "$1"; }
cmp <(data_bytes "$work/all.safetensors") <(data_bytes "$work/again.safetensors") || fail "export -> import -> export changed the weights"
echo "export -> import -> export: $(stat -c %s "$work/all.safetensors") bytes, tensor data identical"

# The imported run continues on 2 ranks from the imported checkpoint, which stands at 8x8 fully faded in:
# 0.4 kimg in the tiny schedule, so 4 more steps of 8 images.
grep -q "training stands at 0.4 kimg: 8x8 stable" "$work/import.log" || fail "unexpected import: $(cat "$work/import.log")"
"${mpirun[@]}" "$progan" train --dataset "$work/set.pgds" --out "$work/imported" --preset tiny --config "$work/imported/config.json" \
    --total-kimg 0.432 >"$work/continue.log" 2>&1 || fail "continuing the imported run failed: $(tail -3 "$work/continue.log")"
grep -q "resuming from $work/imported/checkpoints/step-000000000.ckpt" "$work/continue.log" || fail "the imported run started afresh"
grep -q "^done: 4 steps, 0.43 kimg" "$work/continue.log" || fail "the imported run did not take 4 steps: $(tail -2 "$work/continue.log")"
echo "imported run continued on 2 ranks: $(grep '^done' "$work/continue.log")"

# pgp networks (small widths) train to the same bytes on 1 and 2 ranks.
echo '{"network": {"fmap_max": 16, "latent_size": 16}}' >"$work/small.json"
pgp=(train --dataset "$work/set.pgds" --arch pgp --config "$work/small.json" "${flags[@]}")
OPENBLAS_NUM_THREADS=1 "$progan" "${pgp[@]}" --out "$work/pgp1" >/dev/null || fail "pgp training on 1 rank failed"
"${mpirun[@]}" "$progan" "${pgp[@]}" --out "$work/pgp2" >/dev/null 2>&1 || fail "pgp training on 2 ranks failed"
cmp "$work/pgp1/checkpoints/final.ckpt" "$work/pgp2/checkpoints/final.ckpt" || fail "pgp: 1 and 2 ranks differ"
echo "pgp architecture: 1 and 2 ranks give byte-identical checkpoints"

# Malformed files: one line naming the file and the problem.
size=$(stat -c %s "$work/all.safetensors")
head -c $((size - 100)) "$work/all.safetensors" >"$work/truncated.safetensors"
expect_error "truncated safetensors" "truncated.safetensors: tensor" "$progan" import "$work/truncated.safetensors" --out "$work/i1"
patched_copy "$work/all.safetensors" "$work/huge.safetensors" 0 '\xff\xff\xff\xff\xff\xff\xff\x7f'
expect_error "oversized header length" "huge.safetensors: header length 9223372036854775807 exceeds the limit" \
    "$progan" import "$work/huge.safetensors" --out "$work/i2"
patched_copy "$work/all.safetensors" "$work/past.safetensors" 0 '\x00\x00\x00\x01'
expect_error "header length past the end" "past.safetensors: header length" "$progan" import "$work/past.safetensors" --out "$work/i3"
patched_copy "$work/all.safetensors" "$work/garbage.safetensors" 20 'XXXX'
expect_error "corrupt header" "garbage.safetensors: the header is not valid JSON" "$progan" import "$work/garbage.safetensors" --out "$work/i4"
: >"$work/empty.safetensors"
expect_error "empty file" "empty.safetensors: file is empty" "$progan" import "$work/empty.safetensors" --out "$work/i5"
sed 's/"F32"/"F16"/' "$work/all.safetensors" >"$work/f16.safetensors"
expect_error "float16 tensors" "is F16; progan reads F32 tensors only" "$progan" import "$work/f16.safetensors" --out "$work/i6"
"$progan" export "$checkpoint" --out "$work/g_ema.safetensors" --images 0 >/dev/null || fail "export of g_ema failed"
expect_error "no discriminator" "holds no discriminator" "$progan" import "$work/g_ema.safetensors" --out "$work/i7"
expect_error "missing model" "missing.safetensors: no such file" "$progan" import "$work/missing.safetensors" --out "$work/i8"

# Unsuitable requests.
expect_error "import into a run with checkpoints" "already holds checkpoints" "$progan" import "$work/all.safetensors" --out "$work/run"
expect_error "--format pgp of official networks" "--format pgp needs networks of --arch pgp" \
    "$progan" export "$checkpoint" --out "$work/x.bin" --format pgp
cp "$work/all.safetensors" "$work/model.bin"
expect_error "a pro_gan_pytorch model without PyTorch" "needs PyTorch" env PROGAN_PYTHON=/nonexistent/python \
    "$progan" import "$work/model.bin" --out "$work/i9"
expect_error "export into a missing directory" "$work/no/such/dir" "$progan" export "$checkpoint" --out "$work/no/such/dir/m.safetensors"
expect_error "resolution the network lacks" "--resolution 32 is not one of the network's" \
    "$progan" export "$checkpoint" --out "$work/r.safetensors" --resolution 32
[[ ! -e $work/r.safetensors && ! -e $work/x.bin ]] || fail "a failed export left a file behind"
for dir in i1 i2 i3 i4 i5 i6 i7 i8 i9; do [[ ! -e $work/$dir ]] || fail "a failed import left $work/$dir behind"; done
echo "interop: all checks passed"
