"""Rebuild a trained generator from a checkpoint alone and draw samples from it."""

from __future__ import annotations

from pathlib import Path

import torch

from . import checkpoint
from .config import from_dict
from .recipes.base import DataInfo, Recipe
from .registry import RECIPES
from .rng import seeded


def load_recipe(source: str | Path, device: torch.device | str = "cpu") -> tuple[Recipe, dict]:
    """A run directory (its last.pt) or a checkpoint file -> the recipe with trained networks."""
    ckpt = checkpoint.load(source)
    recipe_cls = RECIPES.get(ckpt["recipe"])
    cfg = from_dict(ckpt["config"])
    info = ckpt["data_info"]
    data = DataInfo(info["channels"], info["image_size"], tuple(info["class_names"]) if info["class_names"] else None)
    recipe = recipe_cls(cfg, data, torch.device(device))
    recipe.load_state_dict(ckpt["state"], nets_only=True)
    return recipe, ckpt


def sample(recipe: Recipe, n: int, seed: int) -> torch.Tensor:
    """``n`` images in [-1, 1]; the same seed gives the same images."""
    return recipe.generate(recipe.sample_inputs(n, seeded(seed, 4)))
