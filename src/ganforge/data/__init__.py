"""Data: sources (``sources.py``: the kinds of ``data.source``, registered in ``DATASETS``), built-in procedural
sets (``builtin.py``: ``BUILTIN_DATA``), decoding and batches (``loader.py``), translation pairs, unpaired domains,
2-D toys and downloads."""

from .builtin import BUILTIN_DATA
from .sources import DATASETS

__all__ = ["BUILTIN_DATA", "DATASETS"]
