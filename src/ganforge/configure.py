"""Resolving a run's config: the layers (recipe defaults -> preset -> config file -> ``--data`` -> dotted overrides)
merged and built into a validated, frozen :class:`~ganforge.config.Config`.

Separate from ``config.py`` (the sections, typing and files), which the recipes import: this module imports the
recipes (for their config classes, defaults and checks) and the metric registry (for ``eval.metrics``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .config import SECTIONS, Config, DataConfig, EvalConfig, OptimConfig, TrainConfig, build_section, merge, validate
from .errors import GanforgeError
from .metrics import parse_metrics
from .recipes import RECIPES


def resolve(layers: list[Mapping[str, Any]]) -> Config:
    """Merge the layers (later wins) and build a validated, frozen :class:`Config`."""
    merged: dict[str, Any] = {}
    for layer in layers:
        merged = merge(merged, layer)
    top = ("recipe", "name", "model", *SECTIONS)
    for k in merged:
        if k not in top:
            raise GanforgeError(f"unknown config key '{k}'; valid top-level keys: {', '.join(top)}")
    for k in ("recipe", "name"):
        if isinstance(merged.get(k), (Mapping, list)):
            raise GanforgeError(f"config key '{k}' is a name (a string), got {merged[k]!r}")
    recipe_name = str(merged.get("recipe", "dcgan"))
    recipe_cls = RECIPES.get(recipe_name)
    merged = merge(getattr(recipe_cls, "defaults", {}), merged)  # the recipe's own defaults lie under everything
    for s in ("model", *SECTIONS):
        if not isinstance(merged.get(s, {}), Mapping):
            raise GanforgeError(f"config key '{s}' must be a section (a mapping), got {merged[s]!r}")
    cfg = Config(
        recipe=recipe_name,
        name=str(merged.get("name", "")),
        model=build_section(recipe_cls.config_cls, merged.get("model", {}), "model."),
        data=build_section(DataConfig, merged.get("data", {}), "data."),
        optim=build_section(OptimConfig, merged.get("optim", {}), "optim."),
        train=build_section(TrainConfig, merged.get("train", {}), "train."),
        eval=build_section(EvalConfig, merged.get("eval", {}), "eval."),
    )
    validate(cfg)
    parse_metrics(cfg.eval.metrics, key="eval.metrics")  # also when eval.every=0: a resume may turn it on
    recipe_cls.validate(cfg)
    return cfg


def from_dict(data: Mapping[str, Any]) -> Config:
    """Rebuild a saved config (``config.yaml`` or a checkpoint's ``config``)."""
    return resolve([data])
