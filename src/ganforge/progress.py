"""Progress for people: a tqdm bar on a terminal; elsewhere (a log file, CI, `nohup`) a plain line every
``GANFORGE_PROGRESS_SECONDS`` seconds (default 30) and one at the end, instead of a carriage-return update per step
(a DCGAN demo wrote 245 KB of them into its log)."""

from __future__ import annotations

import os
import sys
import time
from typing import Any, TextIO


def interval() -> float:
    try:
        return max(0.0, float(os.environ.get("GANFORGE_PROGRESS_SECONDS", "30")))
    except ValueError:
        return 30.0


def bar(total: int, initial: int = 0, unit: str = "step", desc: str = "", file: TextIO | None = None) -> Any:
    """A tqdm bar when ``file`` (stderr) is a terminal, else :class:`Lines`; both take update/set_postfix/close."""
    file = file or sys.stderr
    if getattr(file, "isatty", lambda: False)():
        from tqdm import tqdm

        return tqdm(total=total, initial=initial, unit=unit, desc=desc or None, dynamic_ncols=True, file=file)
    return Lines(total, initial, unit, desc, file)


class Lines:
    """``ganforge: train 1200/1792 steps (67%), 21.4 steps/s, 27 s left; loss_d 1.21, loss_g 0.83`` every few
    seconds."""

    def __init__(self, total: int, initial: int, unit: str, desc: str, file: TextIO) -> None:
        self.total, self.n, self.unit, self.desc, self.file = total, initial, unit, desc, file
        self.every = interval()
        self.start_n, self.start = initial, time.monotonic()
        self.last = self.start
        self.postfix: dict[str, Any] = {}
        self.closed = False

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            self._print(now)

    def set_postfix(self, ordered_dict: dict[str, Any] | None = None, refresh: bool = True, **kwargs: Any) -> None:
        """tqdm's signature: a dict, keyword values, or both."""
        self.postfix = {**(ordered_dict or {}), **kwargs}

    def _print(self, now: float) -> None:
        rate = (self.n - self.start_n) / max(now - self.start, 1e-9)
        pct = f" ({100 * self.n / self.total:.0f}%)" if self.total else ""
        left = f", {(self.total - self.n) / rate:.0f} s left" if rate > 0 and self.total else ""
        extra = "; " + ", ".join(f"{k} {v}" for k, v in self.postfix.items()) if self.postfix else ""
        what = f"{self.desc} " if self.desc else ""
        print(f"ganforge: {what}{self.n}/{self.total} {self.unit}s{pct}, {rate:.3g} {self.unit}s/s{left}{extra}",
              file=self.file, flush=True)

    def close(self) -> None:
        if not self.closed and self.n > self.start_n:
            self._print(time.monotonic())
        self.closed = True
