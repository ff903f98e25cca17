#!/usr/bin/env bash
# The number rows of the README's bad-input table: a value out of its range, from a flag, a config file, a
# checkpoint's state or a safetensors file's metadata, is one error line naming the key (never a trap, a
# failed allocation or a hang), and the messages that used to mislead name the real problem.
source "$(dirname "${BASH_SOURCE[0]}")/prelude.bash"

"$progan" prepare "$emoji" --out "$work/set.pgds" --resolution 8 >/dev/null || fail "prepare failed"
flags=(--preset tiny --resolution 8 --stabilize-kimg 0.016 --fade-kimg 0.016 --total-kimg 0.032 --tick-kimg 0.016)
"$progan" train --dataset "$work/set.pgds" --out "$work/run" "${flags[@]}" >/dev/null || fail "training failed"
checkpoint=$work/run/checkpoints/final.ckpt
train=("$progan" train --dataset "$work/set.pgds" --out "$work/refused" --preset tiny --resolution 8)

# Flags whose values once trapped (a try! encoding the config, Double to Int) or were not bounded.
while IFS='|' read -r flag value expected; do
    expect_error "$flag $value" "$expected" "${train[@]}" "$flag" "$value"
done <<'EOF'
--total-kimg|inf|total_kimg inf is out of range
--total-kimg|nan|total_kimg nan is out of range
--learning-rate|inf|schedule.learning_rate_default inf is out of range
--fade-kimg|inf|schedule.fade_kimg inf is out of range
--stabilize-kimg|1e20|schedule.stabilize_kimg 1e+20 is out of range
--tick-kimg|1e20|tick_kimg 1e+20 is out of range
--grid-samples|1000000000|grid_samples 1000000000 is out of range
--minibatch|9223372036854775807|schedule.minibatch_default 9223372036854775807 is out of range
--swd-images|1000000000|swd_images 1000000000 is out of range
EOF

# Config keys: a range, a size the machine cannot hold, and numbers JSON holds but the setting's type cannot.
config_error() {  # DESCRIPTION EXPECTED JSON
    printf '%s\n' "$3" >"$work/config.json"
    expect_error "$1" "$2" "${train[@]}" --config "$work/config.json"
}
config_error "huge latent_size" "network.latent_size 100000000000 is out of range" '{"network": {"latent_size": 1e11}}'
config_error "number beyond a double" "config.json: 'fmap_decay': the number 1e400 is beyond" \
    '{"network": {"fmap_decay": 1e400}}'
config_error "network larger than memory" "would need about" '{"network": {"fmap_base": 16000000, "fmap_max": 16384}}'
config_error "seed beyond UInt64" "config.json: 'seed' has a value its setting cannot hold (1e+30)" '{"seed": 1e30}'
config_error "negative seed" "config.json: 'seed' has a value its setting cannot hold (-1)" '{"seed": -1}'
config_error "huge minibatch table entry" "schedule.minibatch.8 1000000 is out of range" \
    '{"schedule": {"minibatch": {"8": 1000000}}}'

# Sizes of the other commands.
expect_error "generate --images huge" "--images must be positive, at most" \
    "$progan" generate "$checkpoint" --out "$work/g" --images 1000000000
expect_error "evaluate --images huge" "--images must be an even number from 2 to" \
    "$progan" evaluate "$checkpoint" --dataset "$work/set.pgds" --images 1000000000
expect_error "interpolate --size huge" "--size must be from 1 to 16384" \
    "$progan" interpolate "$checkpoint" --out "$work/i" --size 1000000000
expect_error "export --images huge" "--images must be from 0 to" \
    "$progan" export "$checkpoint" --out "$work/e.safetensors" --images 1000000000
expect_error "timelapse --min-width huge" "--min-width must be from 1 to 16384" \
    "$progan" timelapse "$work/run" --out "$work/t.png" --min-width 1000000000

# with_state CHECKPOINT OUT KEY JSON-VALUE: a copy of a checkpoint whose state has KEY set, checksums valid.
with_state() {
    python3 - "$@" <<'PY' || fail "cannot rewrite the state of $1"
import json, struct, sys, zlib
source, target, key, value = sys.argv[1:5]
data = open(source, "rb").read()
name_length = struct.unpack_from("<I", data, 16)[0]  # the state is the first section
name = data[20:20 + name_length]
start = 20 + name_length
length = struct.unpack_from("<Q", data, start)[0]
state = json.loads(data[start + 8:start + 8 + length])
state[key] = json.loads(value)
payload = json.dumps(state, separators=(",", ":"), sort_keys=True).encode()
section = struct.pack("<I", name_length) + name + struct.pack("<Q", len(payload)) + payload
section += struct.pack("<I", zlib.crc32(name + payload))
open(target, "wb").write(data[:16] + section + data[start + 8 + length + 4:])
PY
}
while IFS='|' read -r key value expected; do
    with_state "$checkpoint" "$work/state.ckpt" "$key" "$value"
    expect_error "checkpoint state $key $value" "state.ckpt: state: $expected" \
        "$progan" generate "$work/state.ckpt" --out "$work/g"
done <<'EOF'
step|-5|step -5 is out of range
data_position|-1|data_position -1 is out of range
images_shown|-1000|images_shown -1000 is out of range
adam_generator_step|-1|adam_generator_step -1 is out of range
resolution|12|resolution 12 is not one of the network's
EOF
with_state "$checkpoint" "$work/state.ckpt" step 1
"$progan" generate "$work/state.ckpt" --out "$work/g" --images 1 >/dev/null || fail "a valid rewritten state was refused"
rm -rf "$work/g"
with_state "$checkpoint" "$work/negative.ckpt" data_position -1
expect_error "resuming from a state with a negative data_position" "negative.ckpt: state: data_position -1" \
    "$progan" train --dataset "$work/set.pgds" --out "$work/resumed" "${flags[@]}" --resume "$work/negative.ckpt"

# Safetensors metadata: a network too large for any machine, from a file of the right shape otherwise.
"$progan" export "$checkpoint" --out "$work/all.safetensors" --net all --images 0 >/dev/null || fail "export failed"
python3 - "$work/all.safetensors" "$work/huge.safetensors" <<'PY' || fail "cannot rewrite the safetensors metadata"
import json, struct, sys
data = open(sys.argv[1], "rb").read()
length = struct.unpack_from("<Q", data, 0)[0]
header = json.loads(data[8:8 + length])
network = json.loads(header["__metadata__"]["progan.network"])
network["latent_size"] = 1e11
header["__metadata__"]["progan.network"] = json.dumps(network)
text = json.dumps(header).encode()
open(sys.argv[2], "wb").write(struct.pack("<Q", len(text)) + text + data[8 + length:])
PY
expect_error "safetensors latent_size 1e11" "huge.safetensors: progan.network: network.latent_size" \
    "$progan" import "$work/huge.safetensors" --out "$work/imported" --preset tiny
[[ ! -e $work/refused && ! -e $work/imported && ! -e $work/g && ! -e $work/i ]] ||
    fail "a refused command left its output behind"

# A run of a trillion images: every tick's ETA must be as quick as any other's (it once stepped through
# the remaining images, seconds per tick, and the first tick never came).
OPENBLAS_NUM_THREADS=1 "$progan" train --dataset "$work/set.pgds" --out "$work/long" --preset tiny --resolution 8 \
    --total-kimg 1e9 --tick-kimg 0.008 >"$work/long.log" 2>&1 &
long=$!
for _ in $(seq 60); do
    (($({ wc -l <"$work/long/metrics.jsonl"; } 2>/dev/null || echo 0) >= 3)) && break
    sleep 0.5
done
kill -TERM "$long" 2>/dev/null
wait "$long"
ticks=$({ wc -l <"$work/long/metrics.jsonl"; } 2>/dev/null || echo 0)
((ticks >= 3)) || fail "--total-kimg 1e9: $ticks ticks in 30 s (the ETA is slow): $(tail -2 "$work/long.log")"
grep -q 'kimg [0-9.]*/1000000000.0 .*ETA ' "$work/long.log" || fail "--total-kimg 1e9: no ETA: $(tail -2 "$work/long.log")"
echo "--total-kimg 1e9 -> $ticks ticks in under 30 s, e.g. $(grep -m1 -o 'ETA .*' "$work/long.log")"

# Messages that named the wrong problem.
python3 - "$work/wide/huge.png" <<'PY' || fail "cannot write the 10000x10000 PNG"
import os, struct, sys, zlib
def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
os.makedirs(os.path.dirname(sys.argv[1]), exist_ok=True)
header = struct.pack(">IIBBBBB", 10000, 10000, 8, 2, 0, 0, 0)  # 10000x10000 RGB: sides within the limit
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                              + chunk(b"IDAT", zlib.compress(b"\0" * 30001)) + chunk(b"IEND", b""))
PY
cp "$emoji/smile.png" "$work/wide/"
output=$("$progan" prepare "$work/wide" --out "$work/wide.pgds" --resolution 8 2>&1)
grep -q 'huge.png: 10000x10000 pixels exceeds the limit of 67108864 pixels in all' <<<"$output" ||
    fail "10000x10000 image: the pixel-count limit is not named: $output"
echo "10000x10000 image -> $(grep -m1 -o 'huge.png: .*' <<<"$output")"
expect_error "a checkpoint given to import" "is a progan checkpoint, not a model to import" \
    "$progan" import "$checkpoint" --out "$work/imported" --preset tiny
expect_error "--resume Auto" "did you mean --resume auto?" "${train[@]}" --resume Auto
[[ ! -e $work/refused && ! -e $work/imported ]] || fail "a refused command left its output behind"
