"""Resolving a run's config: the layers (recipe defaults -> preset -> config file -> ``--data`` -> dotted overrides)
merged and built into a validated, frozen :class:`~ganforge.config.Config`.

Separate from ``config.py`` (the sections, typing and files), which the recipes import: this module imports the
recipes (for their config classes, defaults and checks) and the metric registry (for ``eval.metrics``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dataclasses

from .config import (SECTIONS, Config, DataConfig, EvalConfig, OptimConfig, TrainConfig, build_section, did_you_mean,
                     merge, validate)
from .errors import GanforgeError
from .metrics import parse_metrics
from .recipes import RECIPES


def resolve(layers: list[Mapping[str, Any]]) -> Config:
    """Merge the layers (later wins) and build a validated, frozen :class:`Config`."""
    merged: dict[str, Any] = {}
    for layer in layers:
        merged = merge(merged, layer)
    top = ("recipe", "name", "model", *SECTIONS)
    recipe_cls = RECIPES.get(str(merged.get("recipe", "dcgan"))) if not isinstance(merged.get("recipe"), (Mapping, list)) \
        else None
    classes = {"model": getattr(recipe_cls, "config_cls", None), "data": DataConfig, "optim": OptimConfig,
               "train": TrainConfig, "eval": EvalConfig}
    dotted = [f"{s}.{f.name}" for s, c in classes.items() if c is not None for f in dataclasses.fields(c)]
    for k in merged:
        if k not in top:  # `epochs=3` for train.epochs: the dotted key whose leaf it is, or the closest
            leaf = [d for d in dotted if d.endswith("." + k)]
            hint = f" (did you mean {leaf[0]}?)" if len(leaf) == 1 else did_you_mean(k, [*top, *dotted])
            raise GanforgeError(f"unknown config key '{k}'{hint}; valid top-level keys: {', '.join(top)}")
    for s, c in classes.items():  # a key of another section (model.epochs for train.epochs)
        section = merged.get(s)
        if c is None or not isinstance(section, Mapping):
            continue
        own = {f.name for f in dataclasses.fields(c)}
        for k in section:
            if k not in own:
                elsewhere = [d for d in dotted if d.endswith("." + str(k)) and not d.startswith(s + ".")]
                if len(elsewhere) == 1:
                    raise GanforgeError(f"unknown config key '{s}.{k}' (did you mean {elsewhere[0]}?); valid keys in "
                                        f"{s}: {', '.join(sorted(own))}")
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
