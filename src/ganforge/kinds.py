"""The kinds of trained model, named once.

A recipe is one of four kinds (``Recipe.kind`` decides, from what it is and the data it was trained on):

==============  ===========================================================  =======================
kind            what it does                                                 protocol
==============  ===========================================================  =======================
generator       images from noise (dcgan, mlp, wgangp on images)             :class:`Generator`
conditional     images of a chosen class from noise (cgan, cdcgan)           :class:`Generator`
translator      an image in, an image out (pix2pix, cyclegan)                :class:`Translator`
points          2-D points from noise (the toy runs)                         :class:`Generator`
==============  ===========================================================  =======================

The commands, evaluation, exploration and (later) serving take a model through :func:`as_generator` or
:func:`as_translator`, which return it typed as its protocol or raise the one-line error that says what the
model is and which command fits it; nobody else asks ``getattr(recipe, "translates")``.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any, Protocol

from .errors import GanforgeError

if TYPE_CHECKING:
    import torch


class Kind(str, enum.Enum):
    GENERATOR = "generator"
    CONDITIONAL = "conditional"
    TRANSLATOR = "translator"
    POINTS = "points"


WHAT = {Kind.GENERATOR: "generates images from noise", Kind.CONDITIONAL: "generates images of a class from noise",
        Kind.TRANSLATOR: "translates images", Kind.POINTS: "draws 2-D points"}


class Generator(Protocol):
    """generator, conditional and points models: ``generate(sample_inputs(n, rng[, labels]))``."""

    kind: Kind

    def sample_inputs(self, n: int, generator: torch.Generator, labels: torch.Tensor | None = None) -> dict[str, Any]:
        ...

    def generate(self, inputs: dict[str, Any]) -> torch.Tensor:
        ...


class Translator(Protocol):
    """translator models: ``translate(x, direction)`` for the ``directions`` they were trained in."""

    kind: Kind
    directions: tuple[str, ...]

    def translate(self, x: torch.Tensor, direction: str = "AtoB") -> torch.Tensor:
        ...

    def input_channels(self, direction: str) -> int:
        ...


def _name(model: Any) -> str:
    return model.cfg.recipe


def as_generator(model: Any, source: str, command: str, points: bool = True) -> Generator:
    """``model`` as a :class:`Generator` for ``ganforge COMMAND``; ``points=False`` refuses 2-D point models."""
    kind = model.kind
    if kind is Kind.TRANSLATOR:
        if command == "sample":
            raise GanforgeError(f"{source} holds a {_name(model)} model, which translates images rather than sampling "
                                f"them; use `ganforge translate {source} --input DIR --out DIR`")
        raise GanforgeError(f"{command} needs a model that generates images from noise; {_name(model)} {WHAT[kind]}")
    if kind is Kind.POINTS and not points:
        raise GanforgeError(f"{command} needs a model that generates images from noise; {_name(model)} {WHAT[kind]}")
    return model


def as_translator(model: Any, source: str) -> Translator:
    """``model`` as a :class:`Translator` (``ganforge translate``)."""
    if model.kind is not Kind.TRANSLATOR:
        raise GanforgeError(f"{source} holds a {_name(model)} model, which does not translate images; translate takes "
                            f"a pix2pix or cyclegan run or checkpoint")
    return model


def is_conditional(model: Any) -> bool:
    return model.kind is Kind.CONDITIONAL
