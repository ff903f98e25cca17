#!/usr/bin/env python3
"""Training throughput of the peer, akanimax's pro_gan_pytorch 3.4 on PyTorch's CPU backend, measured the
way `progan bench train` measures ours, for the side-by-side table of scripts/bench.sh.

One step is what the peer's ProGAN.train() does per batch repeat at the final depth with alpha 1: a
WGAN-GP discriminator update (its default loss: gradient penalty with lambda 10, drift 0.001), the
generator EMA update, then a generator update, both with Adam(lr 0.003, betas (0, 0.99), eps 1e-8). The
real batch is a fixed random tensor, so data loading is left out (ours reads a prepared file, which costs
well under 1% of a step). Channel widths follow the peer's nf(stage) = clip(fmap_base / 2^stage, 1,
fmap_max), set here through the module-level function the networks call while being built.

Prints one line of key=value figures (median step time over --steps timed steps after --warmup steps).
Run with the venv of scripts/torch/install-peer.sh.
"""
import argparse
import contextlib
import io
import resource
import statistics
import time

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--fmap-base", type=int, default=16384)
    parser.add_argument("--fmap-max", type=int, default=512)
    parser.add_argument("--latent", type=int, default=512)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    import pro_gan_pytorch.networks as networks
    from pro_gan_pytorch.custom_layers import update_average
    from pro_gan_pytorch.gan import ProGAN
    from pro_gan_pytorch.losses import WganGP

    peer_widths = networks.nf
    networks.nf = lambda stage, **_: peer_widths(stage, fmap_base=args.fmap_base, fmap_max=args.fmap_max)
    depth = args.resolution.bit_length() - 1
    generator = networks.Generator(depth=depth, num_channels=3, latent_size=args.latent, use_eql=True)
    discriminator = networks.Discriminator(depth=depth, num_channels=3, latent_size=args.latent, use_eql=True)
    with contextlib.redirect_stdout(io.StringIO()):  # ProGAN prints both networks when built
        gan = ProGAN(generator, discriminator, device=torch.device("cpu"), use_ema=True, ema_beta=0.999)
    networks.nf = peer_widths

    def adam(module):
        return torch.optim.Adam(module.parameters(), lr=0.003, betas=(0.0, 0.99), eps=1e-8)

    generator_optimizer, discriminator_optimizer = adam(gan.gen), adam(gan.dis)
    loss = WganGP()
    reals = torch.rand(args.batch, 3, args.resolution, args.resolution) * 2 - 1

    def step() -> float:
        latents = torch.randn(args.batch, args.latent)
        start = time.perf_counter()
        gan.optimize_discriminator(loss, discriminator_optimizer, latents, reals, depth, 1.0)
        update_average(gan.gen_shadow, gan.gen, beta=gan.ema_beta)
        gan.optimize_generator(loss, generator_optimizer, latents, reals, depth, 1.0)
        return time.perf_counter() - start

    for _ in range(args.warmup):
        step()
    seconds = statistics.median(step() for _ in range(args.steps))
    parameters = sum(p.numel() for p in generator.parameters()) + sum(p.numel() for p in discriminator.parameters())
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peer=pro_gan_pytorch threads={args.threads} resolution={args.resolution} minibatch={args.batch} "
          f"images_per_second={args.batch / seconds:.3f} step_ms={seconds * 1000:.1f} parameters={parameters} "
          f"peak_rss_mib={peak_mib:.1f} torch={torch.__version__}")


if __name__ == "__main__":
    main()
