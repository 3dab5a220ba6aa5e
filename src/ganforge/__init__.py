"""ganforge: train, evaluate, explore and use GANs for image generation and image-to-image translation."""

__version__ = "0.1.0"
