"""A stand-in for the few torchvision names pro_gan_pytorch 3.4 imports (utils.save_image and four
transforms), for environments where PyPI's torchvision (a CUDA build) does not import next to CPU torch.
Installed on a venv's path by scripts/torch/install-peer.sh; not torchvision, and only as much of it as
pro_gan_pytorch's training loop and data loader call."""
__version__ = "0.0-progan-standin"
