"""Errors that the CLI turns into one line and exit code 2.

The library never prints-and-exits: it raises :class:`GanforgeError` with a message that names the bad
value and what is allowed, and ``ganforge.cli`` prints it without a traceback.
"""

from __future__ import annotations


class GanforgeError(Exception):
    """A user-facing error: bad input, bad config, missing data. Its message is shown as one line."""


def choices_error(kind: str, value: object, choices: "list[str] | tuple[str, ...]") -> GanforgeError:
    """``unknown network 'unet_265'; choices: unet_128, unet_256``."""
    return GanforgeError(f"unknown {kind} {value!r}; choices: {', '.join(sorted(str(c) for c in choices))}")
