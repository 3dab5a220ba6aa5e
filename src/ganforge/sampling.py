"""Rebuild a trained generator from a checkpoint alone and draw samples from it."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path

import torch

from . import checkpoint
from .configure import from_dict
from .errors import GanforgeError
from .kinds import Kind, is_conditional
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
MAX_SEEDS = 1_000_000  # seeds one --seeds list may name
SEEDS_HELP = "a comma list of seeds and inclusive ranges, e.g. 0-35 or 0-3,7,10-12 (each 0 .. 2^63-1)"


def parse_seeds(text: str, flag: str = "--seeds") -> list[int]:
    """``0-35`` or ``0-3,7,10-12`` -> the seeds, in the order given (ranges inclusive, as in stylegan2-ada's
    generate.py; a seed named twice is drawn twice); anything else is a one-line error naming it."""
    seeds: list[int] = []
    if not text.strip():
        raise GanforgeError(f"{flag} is empty; give {SEEDS_HELP}")
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part, re.ASCII)
        if m is None:
            raise GanforgeError(f"{flag} {text!r}: {part.strip()!r} is not a seed or a range; give {SEEDS_HELP}")
        lo = int(m[1])
        hi = lo if m[2] is None else int(m[2])
        if hi >= 2**63:
            raise GanforgeError(f"{flag} {text!r}: seed {hi} is out of range; give {SEEDS_HELP}")
        if hi < lo:
            raise GanforgeError(f"{flag} {text!r}: the range {part.strip()!r} runs backwards; write {hi}-{lo}")
        if len(seeds) + hi - lo + 1 > MAX_SEEDS:
            raise GanforgeError(f"{flag} {text!r} names more than {MAX_SEEDS:,} seeds")
        seeds.extend(range(lo, hi + 1))
    return seeds


def check_trunc(psi: float, flag: str = "--trunc") -> float:
    """The truncation psi: a number in (0, 1] (1 = no truncation); anything else is a one-line error."""
    try:
        value = float(psi)
    except (TypeError, ValueError):
        value = math.nan
    if not 0 < value <= 1:  # NaN fails too
        raise GanforgeError(f"{flag} {psi!r}: the truncation psi must be in (0, 1], e.g. 0.7 (1 = off)")
    return value


def refuse_points_trunc(recipe: Recipe, psi: float, flag: str = "--trunc") -> None:
    if psi != 1 and recipe.kind is Kind.POINTS:
        raise GanforgeError(f"{flag} {psi:g}: {recipe.cfg.recipe} draws 2-D points; the truncation trick applies to "
                            f"image generators (generator and conditional models)")


def truncate(inputs: dict[str, torch.Tensor], psi: float = 1.0) -> dict[str, torch.Tensor]:
    """The truncation trick (Brock et al. 2019; Karras et al. 2019): each latent moves toward the mean latent,
    z' = mean + psi (z - mean). ganforge's latents are drawn from N(0, I), whose mean is 0, so z' = psi z; psi = 1
    leaves the inputs as drawn, smaller psi trades variety for typical-looking samples. Labels are kept."""
    if psi == 1:
        return inputs
    return {**inputs, "z": inputs["z"] * psi}


def sample(recipe: Recipe, n: int, seed: int, label: int | None = None, trunc: float = 1.0) -> torch.Tensor:
    """``n`` images in [-1, 1] (of class ``label`` for conditional models); the same seed gives the same images.
    ``trunc``: the truncation psi (:func:`truncate`)."""
    return torch.cat(list(sample_chunks(recipe, n, seed, label, trunc=trunc)))


def sample_chunks(recipe: Recipe, n: int, seed: int, label: int | torch.Tensor | None = None,
                  chunk: int | None = None, trunc: float = 1.0) -> Iterator[torch.Tensor]:
    """:func:`sample` in chunks of at most ``chunk`` (default :data:`CHUNK`) images, drawn one after the other
    from the seed's stream (the first ``chunk`` images are those of ``sample(recipe, chunk, seed)``); ``label``:
    one class for all, or a tensor of ``n`` classes (one per sample)."""
    gen = seeded(seed, Stream.SAMPLE)
    chunk = chunk or CHUNK
    for start in range(0, n, chunk):
        k = min(chunk, n - start)
        if isinstance(label, torch.Tensor):
            labels = label[start:start + k]
        else:
            labels = None if label is None else torch.full((k,), label, dtype=torch.long)
        yield recipe.generate(truncate(recipe.sample_inputs(k, gen, labels), trunc))


def seed_inputs(recipe: Recipe, seeds: list[int], label: int | None = None) -> dict[str, torch.Tensor]:
    """The inputs of one sample per seed: row i is what ``sample(recipe, 1, seeds[i], label)`` draws (its latent,
    and for conditional models without ``label`` the class that seed draws)."""
    labels = None if label is None else torch.full((1,), label, dtype=torch.long)
    rows = [recipe.sample_inputs(1, seeded(s, Stream.SAMPLE), labels) for s in seeds]
    return {k: torch.cat([r[k] for r in rows]) for k in rows[0]}


def sample_seeds(recipe: Recipe, seeds: list[int], label: int | None = None, trunc: float = 1.0,
                 chunk: int | None = None) -> Iterator[torch.Tensor]:
    """One image per seed, in the order of ``seeds`` (image i is the one ``ganforge sample --seed S --n 1`` draws
    for S = seeds[i]), generated in chunks of at most ``chunk`` (default :data:`CHUNK`)."""
    chunk = chunk or CHUNK
    for start in range(0, len(seeds), chunk):
        yield recipe.generate(truncate(seed_inputs(recipe, seeds[start:start + chunk], label), trunc))


def class_grid(recipe: Recipe, n: int, seed: int, trunc: float = 1.0) -> tuple[torch.Tensor, int]:
    """About ``n`` images of a conditional model, one row per class; returns (images, images per row)."""
    inputs, nrow = recipe.preview_inputs(n, seeded(seed, Stream.SAMPLE))
    return recipe.generate(truncate(inputs, trunc)), nrow


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
