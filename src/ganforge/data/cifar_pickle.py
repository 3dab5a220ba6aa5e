"""Reading CIFAR-10 python batches without running code from them.

The official CIFAR-10 distribution (``cifar-10-batches-py``) is a set of Python pickles. ``pickle.load`` runs
whatever a pickle asks (a ``__reduce__`` payload calls any function), so a planted ``data_batch_1`` would run
code through a plain ``ganforge train --data PATH``. This unpickler resolves only the names the real files
contain: numpy's array reconstruction (``numpy.core.multiarray._reconstruct``, ``numpy.ndarray``, a ``uint8``
``numpy.dtype``) and ``_codecs.encode`` (which protocol-2 pickles written by Python 3 use for bytes); everything
else, and any result other than a dict holding ``data`` (uint8, N x 3072) and ``labels`` (N ints), is refused
with a one-line error before anything is called.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import GanforgeError


def _uint8_dtype(name: Any, align: Any = False, copy: Any = False) -> np.dtype:
    if name not in ("u1", "|u1", "uint8", "B"):
        raise _Refused(f"numpy.dtype({name!r})")
    return np.dtype("u1", align=False, copy=True)  # a copy: its state is set next, never on numpy's own uint8


class _Refused(Exception):
    """A name or value that a CIFAR-10 batch does not hold."""


def _reconstruct(cls: Any, shape: Any, dtype_code: Any) -> np.ndarray:
    # what numpy's own _reconstruct does; the array's dtype and bytes come next from its state (BUILD)
    if cls is not np.ndarray:
        raise _Refused(f"an array of {cls!r}")
    return np.ndarray.__new__(np.ndarray, shape, dtype_code)


_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _uint8_dtype,
}


def _encode(text: Any, encoding: Any = "latin1") -> bytes:
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise _Refused("_codecs.encode with other arguments")
    return text.encode("latin1")


_ALLOWED[("_codecs", "encode")] = _encode


class _CifarUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise _Refused(f"{module}.{name}") from None

    def persistent_load(self, pid: Any) -> Any:
        raise _Refused("a persistent id")


def _key(d: dict, name: str) -> Any:
    return d.get(name.encode(), d.get(name))


def load_batch(path: Path) -> tuple[np.ndarray, list[int]]:
    """One CIFAR-10 batch file -> (uint8 images (N, 32, 32, 3), labels)."""
    try:
        with open(path, "rb") as fh:
            d = _CifarUnpickler(fh, encoding="bytes").load()
    except _Refused as e:
        raise GanforgeError(f"{path} is not a CIFAR-10 batch (it holds a {e}); nothing in it was run") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as e:
        raise GanforgeError(f"{path} is not a CIFAR-10 batch (damaged pickle: {' '.join(str(e).split())[:120]})") \
            from None
    except OSError as e:
        raise GanforgeError(f"cannot read {path}: {e.strerror or e}") from None
    if not isinstance(d, dict):
        raise GanforgeError(f"{path} is not a CIFAR-10 batch (it holds a {type(d).__name__})")
    data, labels = _key(d, "data"), _key(d, "labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        what = f"array {data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise GanforgeError(f"{path} is not a CIFAR-10 batch (its data is a {what}, not uint8 N x 3072)")
    if not isinstance(labels, list) or len(labels) != len(data) or not all(
            isinstance(v, int) and 0 <= v < 10 for v in labels):
        raise GanforgeError(f"{path} is not a CIFAR-10 batch (its labels are not {len(data)} integers 0-9)")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels
