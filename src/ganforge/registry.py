"""Explicit registries (networks, recipes, losses, data kinds, built-in data sets): a decorator registers a name; an unknown name raises an error listing valid names.

No import-by-filename and no dotted class strings: every registered object is imported by
``ganforge.registry.load_builtins`` so that the registries are complete before they are read.
"""

from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar

from .errors import choices_error

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._items[name] = obj
            return obj

        return deco

    def get(self, name: str) -> T:
        load_builtins()
        try:
            return self._items[name]
        except KeyError:
            raise choices_error(self.kind, name, list(self._items)) from None

    def names(self) -> list[str]:
        load_builtins()
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        load_builtins()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


NETS: Registry = Registry("network")
RECIPES: Registry = Registry("recipe")
LOSSES: Registry = Registry("loss")
DATASETS: Registry = Registry("dataset")
BUILTIN_DATA: Registry = Registry("built-in dataset")

_loaded = False


def load_builtins() -> None:
    """Import the modules that register the built-in networks, recipes, losses and datasets."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    from . import losses  # noqa: F401
    from .data import builtin, sources  # noqa: F401
    from .nets import dcgan, mlp, patchgan, resnet, unet, wgangp  # noqa: F401
    from .recipes import cyclegan, gan, pix2pix  # noqa: F401
