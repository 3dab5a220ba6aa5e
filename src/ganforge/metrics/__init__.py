"""Metrics: math on images or features, with the protocol stated where they are reported. Every metric module
registers its metrics in :data:`METRICS` (``base.py``); importing this package imports neither torch nor numpy."""

from . import features, classes, paired, points, modes  # noqa: F401, I001 - registration; order = ranking precedence
from .base import METRICS, Inputs, Metric, main_metric, parse_metrics, sample_count, selectable

__all__ = ["METRICS", "Inputs", "Metric", "main_metric", "parse_metrics", "sample_count", "selectable"]
