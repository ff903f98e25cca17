# Sourced by bench.sh and profile.sh: the binary they measure, how they launch 2 ranks, and the cpu preset's
# widths for `--arch pgp` runs.
progan=.build/release/progan
# One rank pinned to each core.
mpirun=(mpirun -np 2 --bind-to core --map-by core)
if ((EUID == 0)); then mpirun+=(--allow-run-as-root); fi

# write_widths FILE FMAP_BASE FMAP_MAX: a --config overlay that gives `--arch pgp` (which otherwise takes
# pro_gan_pytorch's widths) these channel widths and latent 128. The cpu preset's (Sources/Training/Presets.swift)
# are base 512 and at most 32 maps; until 2026-12 they were 1024 and 64.
cpu_preset_widths=(512 32)
write_widths() { echo "{\"network\": {\"fmap_base\": $2, \"fmap_max\": $3, \"latent_size\": 128}}" >"$1"; }
