"""ganforge: train, evaluate, explore and use GANs for image generation and image-to-image translation."""

from ._version import __version__

__all__ = ["Model", "load", "__version__"]


def __getattr__(name: str):  # noqa: ANN202 - lazy: `import ganforge` stays light, torch loads on first use
    if name in ("load", "Model"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'ganforge' has no attribute {name!r}")
