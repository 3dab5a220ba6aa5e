"""The network registry. Every module of ``ganforge.nets`` registers its networks here with what the generic tests
need (tests/test_registries.py):

- ``example``: a function returning a small instance and a batch of its inputs (a tuple of tensors); the tests
  run it forward and backward and check that one optimiser step changes every parameter;
- ``references``: ``(constructor kwargs, parameter count)`` pairs from the paper's reference implementation
  (../shared/reference/PARAMETER_COUNTS.md), counted on the meta device; ``()`` where there is none;
- ``init_std``: the standard deviation of the N(0, std) initialisation of conv and linear weights, when the
  paper prescribes one (DCGAN, pix2pix, CycleGAN: 0.02).
"""

from __future__ import annotations

from ..errors import choices_error
from ..registry import Registry

NETS: Registry = Registry("network", choices_error)
