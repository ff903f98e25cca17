"""progan's PyTorch side: the generator of a `progan export` rebuilt in PyTorch (`load_generator`), and the
pro_gan_pytorch converter that `progan import` / `progan export --format pgp` run (`progan-pgp-convert`).

    from progan_torch import load_generator
    generator = load_generator("model.safetensors")
"""

__all__ = ["Generator", "load_generator", "read"]


def __getattr__(name: str):
    # The loader imports torch; resolving it on first use lets `progan-pgp-convert` start without torch and
    # say in one line that it needs it, instead of failing in this import with a traceback.
    if name in __all__:
        from . import generator

        return getattr(generator, name)
    raise AttributeError(f"module 'progan_torch' has no attribute {name!r}")
