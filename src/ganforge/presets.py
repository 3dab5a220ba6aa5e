"""Named starting points: each preset is a config layer (recipe defaults apply underneath).

Presets live beside their recipes (``recipes/gan_presets.py``, the end of ``recipes/pix2pix.py`` and
``recipes/cyclegan.py``), registered in ``PRESETS``. ``ganforge presets`` lists them; ``ganforge train --preset
NAME`` uses one; ``ganforge train`` with no arguments uses ``DEFAULT``.
"""

from __future__ import annotations

from .recipes import PRESETS, Preset

DEFAULT = "dcgan-pizza"

__all__ = ["DEFAULT", "PRESETS", "Preset", "get", "listing"]


def get(name: str) -> Preset:
    return PRESETS.get(name)


def listing() -> list[tuple[str, Preset]]:
    """(name, preset): the default first, then in the order the recipes registered them."""
    items = PRESETS.items()
    return sorted(items, key=lambda item: item[0] != DEFAULT)
