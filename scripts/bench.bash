# Sourced by bench.sh and profile.sh: the binary they measure, how they launch 2 ranks, and the cpu preset's
# widths for `--arch pgp` runs.
progan=.build/release/progan
# One rank pinned to each core.
mpirun=(mpirun -np 2 --bind-to core --map-by core)
if ((EUID == 0)); then mpirun+=(--allow-run-as-root); fi

# write_cpu_widths FILE: a --config overlay that gives `--arch pgp` (which otherwise takes pro_gan_pytorch's
# widths) the cpu preset's channel base 1024, at most 64 maps and latent 128.
write_cpu_widths() { echo '{"network": {"fmap_base": 1024, "fmap_max": 64, "latent_size": 128}}' >"$1"; }
