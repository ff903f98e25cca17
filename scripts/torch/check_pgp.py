"""pro_gan_pytorch compatibility, checked numerically against pro_gan_pytorch 3.4 itself.

    python scripts/torch/check_pgp.py networks PROGAN_BINARY WORK_DIR
    python scripts/torch/check_pgp.py workflow PROGAN_BINARY WORK_DIR --mpirun "mpirun -np 2 ..."

networks:
1. A pro_gan_pytorch Generator, shadow Generator and Discriminator of depth 5 with random weights and biases,
   saved as its ProGAN.train saves them, go through progan-pgp-convert to safetensors and back: every tensor
   and conf must come back exactly.
2. `progan import` of that model, then `progan export --net g|g_ema --resolution R --alpha A`: progan's
   images from the export's latents and D's scores of those images must equal pro_gan_pytorch's forward
   (Generator(latents, depth, alpha), Discriminator(images, depth, alpha)) at depths 3..5 and several alphas.
3. `progan export --format pgp` of the imported checkpoint gives back pro_gan_pytorch's state_dicts exactly.

workflow: a depth-3 pro_gan_pytorch model is imported, trained here for a few steps on several MPI ranks,
exported with --format pgp and loaded into pro_gan_pytorch, whose forward must match progan's on the
trained weights (which must have changed).

Prints one line per comparison; exits 1 on the first failure.
"""
import argparse
import os
import subprocess
import sys

import torch
from pro_gan_pytorch.networks import Discriminator, Generator
from safetensors.torch import load_file

DEPTH, LATENT = 5, 512
# (depth, alpha, progan net): every depth, alphas inside (0, 1) and at 1, and the averaged generator.
CASES = [(3, 0.3, "g"), (3, 1.0, "g"), (4, 0.6, "g"), (5, 0.25, "g"), (5, 1.0, "g"), (4, 1.0, "g_ema")]
EMOJI = "/usr/share/javascript/emojify.js/images/emoji"


def fail(message: str) -> None:
    print(f"check_pgp: FAIL: {message}")
    sys.exit(1)


def run(*command: str) -> str:
    # progan runs its converter with this interpreter, the one that has pro_gan_pytorch and progan_torch.
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PROGAN_PYTHON": sys.executable})
    if result.returncode != 0:
        fail(f"{' '.join(command)} exited {result.returncode}: {(result.stderr or result.stdout).strip()}")
    return result.stdout


def randomized(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Every weight and bias N(0, 1): pro_gan_pytorch initializes biases to zero, which would hide a
    misplaced bias."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator))
    return module.eval()


def same_saved_models(a: dict, b: dict, label: str) -> None:
    if set(a) != set(b):
        fail(f"{label}: entries {sorted(a)} vs {sorted(b)}")
    for key in a:
        if a[key]["conf"] != b[key]["conf"]:
            fail(f"{label}: {key} conf {a[key]['conf']} vs {b[key]['conf']}")
        ours, theirs = a[key]["state_dict"], b[key]["state_dict"]
        if list(ours) != list(theirs):
            fail(f"{label}: {key} state_dict names or order differ")
        for name in ours:
            if ours[name].dtype != theirs[name].dtype or not torch.equal(ours[name], theirs[name]):
                fail(f"{label}: {key} {name} differs")
    count = sum(value.numel() for entry in a.values() for value in entry["state_dict"].values())
    print(f"check_pgp: OK: {label}: {', '.join(sorted(a))} identical ({count} values, names, order, conf)")


def random_saved_model(depth: int, seed: int):
    """(saved model dict as ProGAN.train writes it, generator, shadow generator, discriminator)."""
    generator = randomized(Generator(depth=depth, latent_size=LATENT), seed)
    shadow = randomized(Generator(depth=depth, latent_size=LATENT), seed + 1)
    discriminator = randomized(Discriminator(depth=depth, latent_size=LATENT), seed + 2)
    saved = {"generator": generator.get_save_info(), "discriminator": discriminator.get_save_info(),
             "shadow_generator": shadow.get_save_info()}
    return saved, generator, shadow, discriminator


def compare_forward(progan: str, checkpoint: str, export: str, depth: int, alpha: float, net: str, seed: int,
                    generator: torch.nn.Module, discriminator: torch.nn.Module, tolerance: float, label: str) -> None:
    """progan's reference samples of `checkpoint` against pro_gan_pytorch's forward of the same networks."""
    run(progan, "export", checkpoint, "--out", export, "--net", net, "--resolution", str(1 << depth),
        "--alpha", str(alpha), "--images", "16", "--seed", str(seed))
    samples = load_file(os.path.splitext(export)[0] + ".samples.safetensors")
    with torch.no_grad():
        images = generator(samples["latents"], depth=depth, alpha=alpha)
        scores = discriminator(samples["images"], depth=depth, alpha=alpha)
    image_difference = (images - samples["images"]).abs().max().item()
    score_difference = (scores - samples["scores"]).abs().max().item()
    worst = max(image_difference, score_difference)
    verdict = "OK" if worst <= tolerance else "FAIL"
    print(f"check_pgp: {verdict}: {label}depth {depth} ({1 << depth}x{1 << depth}) alpha {alpha:g} {net}: 16 latents, "
          f"max |G diff| {image_difference:.2g} (images up to {samples['images'].abs().max().item():.3g}), "
          f"max |D diff| {score_difference:.2g} (scores up to {samples['scores'].abs().max().item():.3g})")
    if verdict != "OK":
        fail(f"difference {worst:.3g} exceeds {tolerance:g}")


def networks(args, work) -> None:
    saved, generator, shadow, discriminator = random_saved_model(DEPTH, 1)
    torch.save(saved, work("pgp_model.bin"))
    counts = [sum(p.numel() for p in m.parameters()) for m in (generator, discriminator)]
    print(f"check_pgp: pro_gan_pytorch depth {DEPTH}, latent {LATENT}: G {counts[0]}, D {counts[1]} parameters, random weights")

    # 1. The converter alone, both ways.
    convert = (sys.executable, "-m", "progan_torch.pgp_convert")
    run(*convert, "to-safetensors", work("pgp_model.bin"), work("converted.safetensors"))
    run(*convert, "to-pgp", work("converted.safetensors"), work("back.bin"))
    same_saved_models(saved, torch.load(work("back.bin"), weights_only=True), "progan-pgp-convert round trip")

    # 2. progan's forward against pro_gan_pytorch's.
    run(args.progan, "import", work("pgp_model.bin"), "--out", work("run"), "--preset", "tiny")
    checkpoint = os.path.join(args.work, "run", "checkpoints", "step-000000000.ckpt")
    for index, (depth, alpha, net) in enumerate(CASES):
        compare_forward(args.progan, checkpoint, work(f"export-{index}.safetensors"), depth, alpha, net, index,
                        generator if net == "g" else shadow, discriminator, args.tolerance, "")

    # 3. Back to pro_gan_pytorch from progan's checkpoint.
    run(args.progan, "export", checkpoint, "--format", "pgp", "--out", work("exported_pgp.bin"), "--images", "0")
    exported = torch.load(work("exported_pgp.bin"), weights_only=True)
    same_saved_models(saved, exported, "progan import -> export --format pgp")


def workflow(args, work) -> None:
    depth = 3
    saved, _, _, _ = random_saved_model(depth, 10)
    torch.save(saved, work("pgp_model.bin"))
    run(args.progan, "import", work("pgp_model.bin"), "--out", work("run"), "--preset", "tiny")
    # The tiny schedule stands at 8x8 fully faded in after 0.4 kimg: 5 more steps of 8 images.
    log = run(*args.mpirun.split(), args.progan, "train", "--dataset", EMOJI, "--out", work("run"), "--preset", "tiny",
              "--config", work("run/config.json"), "--total-kimg", "0.44")
    if "resuming from " + work("run/checkpoints/step-000000000.ckpt") not in log:
        fail(f"progan train did not continue from the imported checkpoint:\n{log}")
    final = work("run/checkpoints/final.ckpt")
    run(args.progan, "export", final, "--format", "pgp", "--out", work("trained.bin"), "--images", "0")
    trained = torch.load(work("trained.bin"), weights_only=True)
    modules = {}
    for key, module in (("generator", Generator), ("shadow_generator", Generator), ("discriminator", Discriminator)):
        modules[key] = module(**trained[key]["conf"]).eval()
        modules[key].load_state_dict(trained[key]["state_dict"], strict=True)
        changed = sum(not torch.equal(trained[key]["state_dict"][name], value) for name, value in saved[key]["state_dict"].items())
        if changed == 0:
            fail(f"{key}: training over MPI changed no tensor")
    print(f"check_pgp: OK: imported a depth-{depth} pro_gan_pytorch model, trained it over MPI ({args.mpirun}), "
          "loaded the result into pro_gan_pytorch (strict load_state_dict; every network changed)")
    compare_forward(args.progan, final, work("trained.safetensors"), depth, 1.0, "g_ema", 0,
                    modules["shadow_generator"], modules["discriminator"], args.tolerance, "after training: ")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("part", choices=["networks", "workflow"])
    parser.add_argument("progan")
    parser.add_argument("work")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--mpirun", default="mpirun --allow-run-as-root -np 2 -x OPENBLAS_NUM_THREADS=1")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)
    work = lambda name: os.path.join(args.work, name)  # noqa: E731
    (networks if args.part == "networks" else workflow)(args, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
