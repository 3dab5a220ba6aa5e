"""Networks, one file per family; each registers its members in :data:`NETS` (see ``base.py``)."""

from . import dcgan, mlp, patchgan, r3gan, resnet, unet, wgangp  # noqa: F401 - registration
from .base import NETS

__all__ = ["NETS"]
