"""Rebuild a trained generator from a checkpoint alone and draw samples from it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch

from . import checkpoint
from .configure import from_dict
from .errors import GanforgeError
from .kinds import is_conditional
from .recipes import RECIPES, DataInfo, Recipe
from .rng import Stream, seeded


EXPORT_FORMAT = 1  # config.json "ganforge_export" of a safetensors export (ganforge.export)
WEIGHTS = "model.safetensors"
CONFIG = "config.json"


def load_recipe(source: str | Path, device: torch.device | str = "cpu") -> tuple[Recipe, dict]:
    """A run directory (its last.pt), a checkpoint file or a safetensors export folder -> the recipe with trained
    networks, and the checkpoint (of an export: its step, epoch and ``exported: True``)."""
    if is_export(source):
        return load_export(Path(source), device)
    ckpt = checkpoint.load(source)
    return rebuild(ckpt, source, device, nets_only=True), ckpt


def is_export(path: str | Path) -> bool:
    p = Path(path)
    return p.is_dir() and (p / CONFIG).is_file() and (p / WEIGHTS).is_file()


def load_export(folder: Path, device: torch.device | str = "cpu") -> tuple[Recipe, dict]:
    """A folder of ``ganforge export --format safetensors``: the recipe built from config.json, then the exported
    networks' weights into it; JSON and safetensors only, so nothing read runs code."""
    import json

    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        meta = json.loads((folder / CONFIG).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise GanforgeError(f"{folder / CONFIG} cannot be read as JSON ({type(e).__name__})") from None
    if not isinstance(meta, dict) or "ganforge_export" not in meta:
        raise GanforgeError(f"{folder / CONFIG} is not a ganforge export's config (no 'ganforge_export' key)")
    if not isinstance(meta["ganforge_export"], int) or meta["ganforge_export"] > EXPORT_FORMAT:
        raise GanforgeError(f"{folder} is export format {meta['ganforge_export']!r}; this ganforge reads up to "
                            f"{EXPORT_FORMAT}")
    try:
        tensors = load_file(folder / WEIGHTS, device="cpu")
    except (SafetensorError, OSError, ValueError) as e:
        raise GanforgeError(f"{folder / WEIGHTS} is not a safetensors file or is damaged ({type(e).__name__})") from None
    nets = meta.get("nets")
    if not isinstance(nets, list) or not all(isinstance(n, str) for n in nets):
        raise GanforgeError(f"{folder / CONFIG}: 'nets' must be a list of network names")
    ckpt = {"recipe": meta.get("recipe"), "config": meta.get("config"), "data_info": meta.get("data_info"), "state": None}
    if not isinstance(ckpt["config"], dict) or not isinstance(ckpt["data_info"], dict):
        raise GanforgeError(f"{folder / CONFIG}: 'config' and 'data_info' must be mappings")
    recipe = rebuild(ckpt, folder, device)
    for name in nets:
        if name not in recipe.nets:
            raise GanforgeError(f"{folder / CONFIG}: network {name!r} is not one of {recipe.cfg.recipe}'s "
                                f"({', '.join(recipe.nets)})")
        state = {k[len(name) + 1:]: v for k, v in tensors.items() if k.startswith(name + ".")}
        try:
            recipe.nets[name].load_state_dict(state)
        except RuntimeError as e:
            raise GanforgeError(f"{folder / WEIGHTS} does not fit network {name!r} of its config "
                                f"({' '.join(str(e).split())[:160]})") from None
    return recipe, {"step": meta.get("step"), "epoch": meta.get("epoch"), "exported": True}


def rebuild(ckpt: dict, source: str | Path, device: torch.device | str = "cpu", nets_only: bool = True) -> Recipe:
    """The recipe a checkpoint describes, with its state loaded; a checkpoint whose parts do not fit together
    (a hand-made or damaged file) is a one-line error naming it."""
    try:
        recipe_cls = RECIPES.get(ckpt["recipe"])
        cfg = from_dict(ckpt["config"])
    except GanforgeError as e:
        raise GanforgeError(f"checkpoint {source}: {e}") from None
    try:
        info = ckpt["data_info"]
        names = tuple(info["class_names"]) if info.get("class_names") else None
        data = DataInfo(int(info["channels"]), int(info["image_size"]), names, int(info.get("points", 0)),
                        int(info.get("input_channels", 0)))
        recipe = recipe_cls(cfg, data, torch.device(device))
        if ckpt["state"] is not None:  # None: an export's recipe, whose weights are loaded next
            recipe.load_state_dict(ckpt["state"], nets_only=nets_only)
    except GanforgeError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError, IndexError) as e:
        raise GanforgeError(f"checkpoint {source} is damaged: its networks do not match its config "
                            f"({type(e).__name__}: {' '.join(str(e).split())[:160]})") from None
    return recipe


def class_index(recipe: Recipe, value: str) -> int:
    """``--class`` as an index or a class name -> the index; one-line errors for the rest."""
    names = recipe.data.class_names
    if not is_conditional(recipe) or not names:
        raise GanforgeError(f"--class {value}: recipe {recipe.cfg.recipe} is unconditional (it takes no class)")
    if value in names:
        return names.index(value)
    try:
        k = int(value)
    except ValueError:
        k = -1
    if not 0 <= k < len(names):
        raise GanforgeError(f"--class {value!r} is out of range; allowed: 0..{len(names) - 1} or a class name "
                            f"({', '.join(names)})")
    return k


CHUNK = 4096  # inputs drawn and images generated at a time: any n runs in bounded memory


def sample(recipe: Recipe, n: int, seed: int, label: int | None = None) -> torch.Tensor:
    """``n`` images in [-1, 1] (of class ``label`` for conditional models); the same seed gives the same images."""
    return torch.cat(list(sample_chunks(recipe, n, seed, label)))


def sample_chunks(recipe: Recipe, n: int, seed: int, label: int | None = None,
                  chunk: int | None = None) -> Iterator[torch.Tensor]:
    """:func:`sample` in chunks of at most ``chunk`` (default :data:`CHUNK`) images, drawn one after the other
    from the seed's stream (the first ``chunk`` images are those of ``sample(recipe, chunk, seed)``)."""
    gen = seeded(seed, Stream.SAMPLE)
    chunk = chunk or CHUNK
    for start in range(0, n, chunk):
        k = min(chunk, n - start)
        labels = None if label is None else torch.full((k,), label, dtype=torch.long)
        yield recipe.generate(recipe.sample_inputs(k, gen, labels))


def class_grid(recipe: Recipe, n: int, seed: int) -> tuple[torch.Tensor, int]:
    """About ``n`` images of a conditional model, one row per class; returns (images, images per row)."""
    inputs, nrow = recipe.preview_inputs(n, seeded(seed, Stream.SAMPLE))
    return recipe.generate(inputs), nrow


def write_points(recipe: Recipe, n: int, seed: int, out: Path) -> tuple[Path, Path, dict[str, float]]:
    """A toy run's ``n`` points as ``out``.csv and a scatter over the real density as ``out``.png; returns both
    paths and the mode metrics of the points."""
    import numpy as np

    from .data.sources import open_source
    from .data.toy import mode_metrics, scatter_png
    from .files import atomic_write

    toy = open_source(recipe.cfg.data).toy
    points = sample(recipe, n, seed).float().cpu().numpy()
    csv, png = out.with_suffix(".csv"), out.with_suffix(".png")
    atomic_write(csv, lambda f: np.savetxt(f, points, delimiter=",", header="x,y", comments="", fmt="%.6f"))
    scatter_png(points, toy, png, title=f"{n} samples, seed {seed}")
    return csv, png, mode_metrics(points, toy)
