"""Explicit registries: a decorator registers a name; an unknown name raises an error listing the valid ones.

This module imports nothing of ganforge. Each registry lives beside its members and each package registers
its own members: ``ganforge.nets`` (its ``__init__`` imports every network module) fills ``NETS``,
``ganforge.recipes`` fills ``RECIPES`` and ``PRESETS``, ``ganforge.losses`` fills ``LOSSES``, ``ganforge.data``
fills ``DATASETS`` and ``BUILTIN_DATA``, ``ganforge.metrics`` fills ``METRICS``. Whoever reads a registry
imports it from its package, which is then complete. No import-by-filename, no dotted class strings.

A registration may carry metadata (``NETS.register("unet_generator", example=..., references=...)``), which
generic tests read: a new network, loss or metric gets the checks of its kind for free.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def _lookup_error(kind: str, name: object, choices: list[str]) -> Exception:
    return LookupError(f"unknown {kind} {name!r}; choices: {', '.join(sorted(choices))}")


class Registry(Generic[T]):
    """Names -> objects, in registration order. ``unknown(kind, name, choices)`` makes the error of a failed
    lookup (ganforge passes :func:`ganforge.errors.choices_error`, a one-line user error)."""

    def __init__(self, kind: str, unknown: Callable[[str, object, list[str]], Exception] = _lookup_error) -> None:
        self.kind = kind
        self._unknown = unknown
        self._items: dict[str, T] = {}
        self._meta: dict[str, dict[str, Any]] = {}

    def register(self, name: str, **meta: Any) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            self.add(name, obj, **meta)
            return obj

        return deco

    def add(self, name: str, obj: T, **meta: Any) -> T:
        if name in self._items:
            raise ValueError(f"{self.kind} {name!r} registered twice")
        self._items[name] = obj
        self._meta[name] = meta
        return obj

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise self._unknown(self.kind, name, list(self._items)) from None

    def meta(self, name: str) -> dict[str, Any]:
        """What was registered with ``name`` besides the object (empty when nothing)."""
        self.get(name)
        return self._meta[name]

    def names(self) -> list[str]:
        return sorted(self._items)

    def items(self) -> list[tuple[str, T]]:
        """(name, object) in registration order."""
        return list(self._items.items())

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, name: str) -> T:
        return self.get(name)
