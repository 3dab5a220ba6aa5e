"""Training schemes, one file per recipe; each registers its recipes and presets in ``RECIPES`` and ``PRESETS``
(see ``base.py``). The import order below is the order of ``ganforge presets``."""

from . import gan, gan_presets, r3gan, pix2pix, cyclegan  # noqa: F401, I001 - registration, in listing order
from .base import PRESETS, RECIPES, DataInfo, Preset, Recipe

__all__ = ["PRESETS", "RECIPES", "DataInfo", "Preset", "Recipe"]
