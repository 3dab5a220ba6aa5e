"""The Python API: a trained model as one object.

>>> import ganforge
>>> m = ganforge.load("runs/demo")            # a run directory, a checkpoint file, or an exported folder
>>> images = m.generate(16, seed=0)           # (16, C, H, W) in [-1, 1]
>>> m.generate_images(4, seed=0)[0].save("first.png")

The commands ``sample``, ``interpolate``, ``translate`` and ``serve`` take their model from :func:`load`, and
:class:`Model` calls the recipe's own sampling and translation, so Python and the command line draw the same
images for the same seed. Inference runs as sampling always has: eval mode, standing BatchNorm statistics, the
EMA generator where one was kept, pix2pix's test-time dropout as configured (``dropout=`` overrides it).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from .errors import GanforgeError
from .kinds import Kind, as_generator, as_translator
from .rng import Stream, seeded

if TYPE_CHECKING:
    from PIL import Image

    from .recipes import Recipe

def load(source: str | Path, device: str | torch.device = "cpu") -> Model:
    """A trained model from a run directory (its last.pt), a checkpoint file, or a folder written by
    ``ganforge export --format safetensors``; nothing read runs code (checkpoints are read with
    ``weights_only=True``, exports are safetensors and JSON)."""
    from .sampling import load_recipe

    recipe, meta = load_recipe(source, device)
    return Model(recipe, str(source), meta)


def _as_index(model: Model, value: int | str) -> int:
    from .sampling import class_index

    return class_index(model.recipe, str(value))


class Model:
    """A trained generator, conditional generator, 2-D point model or translator (``kind``)."""

    def __init__(self, recipe: Recipe, source: str, meta: dict[str, Any]) -> None:
        self.recipe, self.source = recipe, source
        self.step, self.epoch = meta.get("step"), meta.get("epoch")
        self.exported = bool(meta.get("exported"))  # a folder of ganforge export: no run, no data for examples

    def __repr__(self) -> str:
        return (f"<ganforge.Model {self.recipe.cfg.recipe} ({self.kind}) from {self.source!r}, step {self.step}, "
                f"{self.image_size}px>")

    # facts -------------------------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        """generator | conditional | translator | points"""
        return self.recipe.kind.value

    @property
    def latent_dim(self) -> int | None:
        if self.recipe.kind is Kind.TRANSLATOR:
            return None
        return math.prod(self.recipe.latent_shape)

    @property
    def classes(self) -> tuple[str, ...] | None:
        return self.recipe.data.class_names if self.recipe.kind is Kind.CONDITIONAL else None

    @property
    def image_size(self) -> int:
        return self.recipe.data.image_size

    @property
    def channels(self) -> int:
        return self.recipe.data.channels

    @property
    def directions(self) -> tuple[str, ...]:
        return tuple(self.recipe.directions) if self.recipe.kind is Kind.TRANSLATOR else ()

    @property
    def device(self) -> torch.device:
        return self.recipe.device

    def to(self, device: str | torch.device) -> Model:
        d = torch.device(device)
        for net in self.recipe.nets.values():
            net.to(d)
        self.recipe.device = d
        return self

    # generation --------------------------------------------------------------------------------------
    def _labels(self, labels: Any, n: int) -> torch.Tensor | None:
        if labels is None:
            return None
        if self.recipe.kind is not Kind.CONDITIONAL:
            raise GanforgeError(f"labels: {self.recipe.cfg.recipe} is unconditional (it takes no class)")
        if isinstance(labels, torch.Tensor):
            labels = labels.flatten().tolist()
        if isinstance(labels, (int, str)):
            labels = [labels] * n
        out = torch.tensor([_as_index(self, v) for v in labels], dtype=torch.long)
        if len(out) != n:
            raise GanforgeError(f"labels: {len(out)} given for {n} samples")
        return out

    def generate(self, n: int | None = None, seed: int = 0, z: torch.Tensor | None = None,
                 labels: int | str | Sequence[int | str] | torch.Tensor | None = None,
                 trunc: float = 1.0) -> torch.Tensor:
        """``n`` samples from ``seed`` (those of ``ganforge sample --seed``), or one per row of ``z``:
        (N, C, H, W) images in [-1, 1] on the CPU ((N, 2) points for toy models). ``labels`` (conditional
        models): one class for all, or one per sample, as indices or names; default random classes. ``trunc``:
        the truncation psi in (0, 1] (``ganforge sample --trunc``): each latent moves toward the mean latent, which
        is 0 for ganforge's N(0, I) latents, so z' = psi z (also for a given ``z``); 1 (default) = off; image
        generators only."""
        from .sampling import check_trunc, refuse_points_trunc, sample_chunks, truncate

        as_generator(self.recipe, self.source, "generate")
        psi = check_trunc(trunc, "trunc")
        refuse_points_trunc(self.recipe, psi, "trunc")
        if z is None:
            n = 1 if n is None else int(n)
            if n < 1:
                raise GanforgeError(f"n must be >= 1; got {n}")
            out = torch.cat(list(sample_chunks(self.recipe, n, seed, self._labels(labels, n), trunc=psi)))
        else:
            z = torch.as_tensor(z, dtype=torch.float32)
            shape = self.recipe.latent_shape
            if n is not None and n != len(z):
                raise GanforgeError(f"n={n} but z has {len(z)} rows")
            try:
                z = z.reshape(len(z), *shape)
            except RuntimeError:
                raise GanforgeError(f"z must be (N, {self.latent_dim}); got {tuple(z.shape)}") from None
            inputs: dict[str, torch.Tensor] = {"z": z}
            y = self._labels(labels, len(z))
            if self.recipe.kind is Kind.CONDITIONAL:
                inputs["y"] = y if y is not None else self.recipe.sample_inputs(len(z), seeded(seed, Stream.SAMPLE))["y"]
            out = self.recipe.generate(truncate(inputs, psi))
        out = out.float().cpu()
        return out if self.recipe.kind is Kind.POINTS else out.clamp(-1, 1)

    def generate_images(self, n: int | None = None, seed: int = 0, z: torch.Tensor | None = None,
                        labels: Any = None, trunc: float = 1.0) -> list[Image.Image]:
        """:meth:`generate` as Pillow images."""
        from .data.images import to_pil

        if self.recipe.kind is Kind.POINTS:
            raise GanforgeError(f"{self.recipe.cfg.recipe} on 2-D points draws points, not images: use generate()")
        return [to_pil(x.add(1).div(2)) for x in self.generate(n, seed, z, labels, trunc)]

    def interpolate(self, seed_a: int, seed_b: int, steps: int = 8, mode: str = "slerp",
                    label: int | str | None = None) -> torch.Tensor:
        """``steps`` images on the latent path from seed_a's latent to seed_b's (endpoints included, ``slerp``
        or ``lerp``), as ``ganforge interpolate`` draws them; conditional models need ``label``."""
        from . import explore

        as_generator(self.recipe, self.source, "interpolate", points=False)
        y = None if label is None else _as_index(self, label)
        return explore.render(self.recipe, explore.path_latents(self.recipe, [seed_a, seed_b], steps, mode), y) \
            .float().cpu().clamp(-1, 1)

    # translation -------------------------------------------------------------------------------------
    def translate(self, image: Image.Image | torch.Tensor, direction: str | None = None, fit: str = "resize",
                  dropout: bool | None = None, seed: int = 0) -> Any:
        """A Pillow image -> its translation as a Pillow image of the same size; a tensor (C, H, W) or
        (N, C, H, W) in [-1, 1] -> a tensor of the same height and width. ``fit``: ``resize`` to the training
        size and back (the default) or ``pad`` to full resolution, as ``ganforge translate --fit``; ``dropout``
        overrides pix2pix's test-time dropout (drawn from ``seed``)."""
        from PIL import Image as PILImage

        from .translation import FITS, translate_image, translate_tensor

        recipe = as_translator(self.recipe, self.source)
        direction = direction or recipe.directions[0]
        if direction not in recipe.directions:
            raise GanforgeError(f"direction {direction!r}: this {self.recipe.cfg.recipe} model translates "
                                f"{' and '.join(recipe.directions)} only")
        if fit not in FITS:
            raise GanforgeError(f"fit {fit!r}; choices: {', '.join(FITS)}")
        saved = self.recipe.cfg
        if dropout is not None and hasattr(saved.model, "test_dropout"):
            self.recipe.cfg = dataclasses.replace(saved, model=dataclasses.replace(saved.model, test_dropout=dropout))
        try:
            torch.manual_seed(seed)  # test-time dropout draws from it
            if isinstance(image, PILImage.Image):
                return translate_image(self.recipe, image, direction, fit)
            x = torch.as_tensor(image, dtype=torch.float32)
            single = x.dim() == 3
            if x.dim() not in (3, 4) or x.shape[-3] != recipe.input_channels(direction):
                raise GanforgeError(f"image tensor must be ({recipe.input_channels(direction)}, H, W) or "
                                    f"(N, {recipe.input_channels(direction)}, H, W); got {tuple(x.shape)}")
            y = translate_tensor(self.recipe, x[None] if single else x, direction, fit)
            return y[0] if single else y
        finally:
            self.recipe.cfg = saved

    def examples(self, n: int = 8) -> dict[str, torch.Tensor]:
        """A translator's example inputs per direction: the first ``n`` validation pairs of its run's data (else
        training pairs), those of the per-epoch previews, as (n, C, H, W) in [-1, 1]; {} for other models, for
        exported folders, or when the data is not at hand any more."""
        if self.recipe.kind is not Kind.TRANSLATOR or self.exported:
            return {}
        from .data.open import open_data

        cfg = self.recipe.cfg
        kind = type(self.recipe).data_kind
        try:
            data = None
            if cfg.train.val_images and cfg.data.val_split != "none":
                data = open_data(cfg.data, 1, cfg.train.seed, torch.device("cpu"), kind, val_images=n)
            data = data or open_data(cfg.data, 1, cfg.train.seed, torch.device("cpu"), kind)
            batch = next(data.ordered(n, n))
        except (GanforgeError, OSError, StopIteration):
            return {}
        pairs = dict(zip(self.recipe.directions, (batch.image, batch.target)))
        return {d: x.float().cpu() for d, x in pairs.items()}

    # export ------------------------------------------------------------------------------------------
    def export_net(self, direction: str | None = None) -> torch.nn.Module:
        """The stand-alone inference network (``ganforge export`` traces it)."""
        if self.recipe.kind is Kind.TRANSLATOR:
            direction = direction or self.recipe.directions[0]
        return self.recipe.export_net(direction)
