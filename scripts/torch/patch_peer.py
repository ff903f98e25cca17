"""Makes pro-gan-pth 3.4 run on current torch, editing the installed package in place (idempotent).

1. custom_layers.py, EqualizedConvTranspose2d.forward: `_output_padding` is given the builtin `input`
   instead of the tensor `x`, and current torch wants the number of spatial dims and the dilation too.
2. gan.py: Adam's betas `(0, 0.99)` must be floats for current torch.

Each edit is applied only where the original text is still present; a text that is neither original nor
edited means a different pro-gan-pth, which is an error rather than a silent skip.
"""
import importlib.util
import pathlib
import sys

EDITS = {
    "custom_layers.py": [(
        "self._output_padding(\n            input, output_size, self.stride, self.padding, self.kernel_size\n        )",
        "self._output_padding(\n            x, output_size, self.stride, self.padding, self.kernel_size,\n"
        "            num_spatial_dims=2, dilation=self.dilation,\n        )",
    )],
    "gan.py": [("betas=(0, 0.99)", "betas=(0.0, 0.99)")],
}


def main() -> int:
    spec = importlib.util.find_spec("pro_gan_pytorch")
    if spec is None or not spec.submodule_search_locations:
        print("patch_peer: pro_gan_pytorch is not installed", file=sys.stderr)
        return 1
    package = pathlib.Path(list(spec.submodule_search_locations)[0])
    for name, edits in EDITS.items():
        path = package / name
        text = path.read_text()
        for original, edited in edits:
            if edited in text and original not in text:
                continue
            if original not in text:
                print(f"patch_peer: {path}: neither the original nor the edited text is there "
                      "(not pro-gan-pth 3.4?)", file=sys.stderr)
                return 1
            text = text.replace(original, edited)
            print(f"patch_peer: edited {path}")
        path.write_text(text)
        for cached in (package / "__pycache__").glob(path.stem + ".*.pyc"):
            cached.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
