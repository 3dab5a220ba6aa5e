"""2-D toy distributions for studying GAN mode collapse, and their mode metrics.

Distributions (a data source ``toy:<spec>``, see :func:`parse_toy`):

* ``ring``: a mixture of ``modes`` (default 8) isotropic Gaussians with std 0.02 whose centres are equally spaced on a
  circle of radius ``scale`` (default 2), as in Metz et al., "Unrolled Generative Adversarial Networks" (ICLR 2017).
* ``grid``: a mixture of ``modes`` (default 25, a perfect square m*m) isotropic Gaussians with std 0.05 centred on an
  m x m lattice with spacing ``scale`` (default 2), i.e. centres at -4, -2, 0, 2, 4 on each axis, as in Srivastava et
  al., "VEEGAN" (NIPS 2017) and Lin et al., "PacGAN: The power of two samples in generative adversarial networks"
  (NeurIPS 2018).
* ``spiral``: an Archimedean spiral r = scale * phi / phi_max, phi in [pi/2, 3*pi] (1.25 turns, outer radius ``scale``,
  default 2, arm spacing 2/3 * scale), sampled uniformly in arc length with isotropic Gaussian noise of std 0.05 (default).
  It has no natural modes: the curve is cut into ``modes`` (default 12) bins of equal arc length, each bin is a "mode",
  and :meth:`Toy.centers` gives the arc-length midpoints of the bins.

All modes are equally likely, so the real distribution over modes is uniform.

Metric rule (:func:`mode_metrics`), following the PacGAN code (fjxmlzn/PacGAN,
``synthetic_data_experiments/PacGAN/pacgan/extensions.py``, ``MetricLogger``: per-coordinate std-normalised distance to
each mode mean, nearest mode, ``dis_thre=3``, evaluated on 2,500 generated samples) and the VEEGAN/PacGAN papers:

* each point is assigned to its nearest mode centre (spiral: to the nearest point of the curve, and through it to that
  point's arc-length bin); it is *high quality* when its distance to that centre (spiral: to the curve), divided by
  ``std``, is strictly below 3. Non-finite points are never high quality.
* ``modes``: the number of modes that received at least one high-quality point (PacGAN's "mode coverage").
* ``high_quality``: high-quality points / all points (PacGAN's "good points percentage").
* ``reverse_kl``: KL(q || p) = sum_k q_k log(q_k / p_k), where q is the histogram of the high-quality points over the
  modes and p is uniform (1/K). q is smoothed as (q + eps) / (1 + K * eps), eps = 1e-10, so the value stays finite:
  ~0 for a perfectly balanced sample, ~log(K) when every high-quality point is on one mode. With no high-quality point
  at all q is undefined and the value is log(K), the worst value the metric can take. (The PacGAN repository logs the
  JSD of the same histogram; its paper reports this reverse KL.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import GanforgeError

TOY_NAMES = ("ring", "grid", "spiral")
DEFAULTS: dict[str, dict[str, float]] = {
    "ring": {"modes": 8, "scale": 2.0, "std": 0.02},
    "grid": {"modes": 25, "scale": 2.0, "std": 0.05},
    "spiral": {"modes": 12, "scale": 2.0, "std": 0.05},
}
PARAM_KEYS = ("modes", "scale", "std")
HQ_STDS = 3.0  # a point is high quality within this many std of its mode (PacGAN's dis_thre)
KL_EPS = 1e-10

# The spiral: r = scale * phi / PHI_MAX for phi in [PHI_MIN, PHI_MAX], drawn as a polyline of SPIRAL_SEGMENTS segments.
PHI_MIN = 0.5 * math.pi
PHI_MAX = 3.0 * math.pi
SPIRAL_SEGMENTS = 512
_CHUNK = 512  # points per block in the nearest-centre / nearest-segment search (keeps the temporaries in cache)


def _fmt(x: float) -> str:
    return f"{x:g}"


@dataclass(frozen=True)
class Toy:
    """One 2-D toy distribution. Construct it with :func:`parse_toy`, or directly (the values are checked either way)."""

    name: str
    modes: int
    scale: float
    std: float

    def __post_init__(self) -> None:
        if self.name not in TOY_NAMES:
            raise GanforgeError(f"unknown toy distribution {self.name!r}; choices: {', '.join(TOY_NAMES)}")
        if isinstance(self.modes, bool) or not isinstance(self.modes, (int, np.integer)) or self.modes < 1:
            raise GanforgeError(f"toy {self.name}: modes must be an integer >= 1, got {self.modes!r}")
        if self.name == "grid" and math.isqrt(int(self.modes)) ** 2 != self.modes:
            raise GanforgeError(f"toy grid: modes must be a perfect square (1, 4, 9, 16, 25, ...), got {self.modes}")
        for key in ("scale", "std"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
                    or not math.isfinite(value) or value <= 0:
                raise GanforgeError(f"toy {self.name}: {key} must be a finite number > 0, got {value!r}")
        object.__setattr__(self, "modes", int(self.modes))
        object.__setattr__(self, "scale", float(self.scale))
        object.__setattr__(self, "std", float(self.std))

    # -- geometry ---------------------------------------------------------------------------------------------------

    def centers(self) -> np.ndarray:
        """(K, 2) float64 mode centres; spiral: the arc-length midpoints of the K equal-length bins of the curve."""
        k = self.modes
        if self.name == "ring":
            theta = 2.0 * np.pi * np.arange(k) / k
            return self.scale * np.stack([np.cos(theta), np.sin(theta)], axis=1)
        if self.name == "grid":
            m = math.isqrt(k)
            axis = (np.arange(m) - (m - 1) / 2.0) * self.scale
            xx, yy = np.meshgrid(axis, axis, indexing="ij")
            return np.stack([xx.ravel(), yy.ravel()], axis=1)
        verts, cum = self._spiral_polyline()
        return _along(verts, cum, (np.arange(k) + 0.5) / k * cum[-1])

    def _spiral_polyline(self) -> tuple[np.ndarray, np.ndarray]:
        """Vertices (S+1, 2) of the spiral and the cumulative arc length (S+1,) at each vertex."""
        phi = np.linspace(PHI_MIN, PHI_MAX, SPIRAL_SEGMENTS + 1)
        r = self.scale * phi / PHI_MAX
        verts = np.stack([r * np.cos(phi), r * np.sin(phi)], axis=1)
        cum = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(verts, axis=0), axis=1))])
        return verts, cum

    def extent(self) -> float:
        """Half-width of a square view centred on the origin that holds the distribution with a margin."""
        if self.name == "spiral":
            reach = self.scale
        else:
            reach = float(np.abs(self.centers()).max())
        reach = max(reach, self.scale)  # a 1-mode grid sits at the origin: still show a window around it
        return reach + max(8.0 * self.std, 0.25 * reach, 0.5)

    # -- sampling ---------------------------------------------------------------------------------------------------

    def sample(self, n: int, seed: int) -> np.ndarray:
        """``n`` points (n, 2) float32, deterministic from ``seed``; every mode is equally likely."""
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise GanforgeError(f"toy sample size must be an integer >= 0, got {n!r}")
        rng = np.random.default_rng(seed)
        if self.name == "spiral":
            verts, cum = self._spiral_polyline()
            base = _along(verts, cum, rng.uniform(0.0, cum[-1], size=n))
        else:
            base = self.centers()[rng.integers(0, self.modes, size=n)]
        return (base + self.std * rng.standard_normal((n, 2))).astype(np.float32)

    def describe(self) -> str:
        """e.g. ``toy:ring (8 modes, radius 2, std 0.02)``."""
        if self.name == "ring":
            shape = f"radius {_fmt(self.scale)}"
        elif self.name == "grid":
            m = math.isqrt(self.modes)
            shape = f"{m}x{m}, spacing {_fmt(self.scale)}"
        else:
            shape = f"outer radius {_fmt(self.scale)}"
        return f"toy:{self.name} ({self.modes} modes, {shape}, std {_fmt(self.std)})"


def _along(verts: np.ndarray, cum: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Points at arc lengths ``s`` along the polyline (linear interpolation between vertices)."""
    return np.stack([np.interp(s, cum, verts[:, 0]), np.interp(s, cum, verts[:, 1])], axis=1)


def parse_toy(spec: str) -> Toy:
    """``ring``, ``grid``, ``spiral``, optionally with ``:modes=8,scale=2,std=0.02`` (any subset, any order)."""
    text = spec.strip()
    name, sep, rest = text.partition(":")
    name = name.strip().lower()
    if name not in TOY_NAMES:
        raise GanforgeError(f"unknown toy distribution {name!r}; choices: {', '.join(TOY_NAMES)}")
    values: dict[str, float] = dict(DEFAULTS[name])
    seen: set[str] = set()
    for item in rest.split(",") if sep else []:
        item = item.strip()
        if not item:
            continue
        key, eq, raw = item.partition("=")
        key, raw = key.strip().lower(), raw.strip()
        if not eq:
            raise GanforgeError(f"bad toy parameter {item!r} in {spec!r}; expected key=value with key one of "
                                f"{', '.join(PARAM_KEYS)}")
        if key not in PARAM_KEYS:
            raise GanforgeError(f"unknown toy parameter {key!r} in {spec!r}; allowed: {', '.join(PARAM_KEYS)}")
        if key in seen:
            raise GanforgeError(f"toy parameter {key!r} given twice in {spec!r}")
        seen.add(key)
        if key == "modes":
            try:
                values[key] = int(raw)
            except ValueError:
                raise GanforgeError(f"toy parameter modes={raw!r} is not an integer; expected an integer >= 1") from None
        else:
            try:
                values[key] = float(raw)
            except ValueError:
                raise GanforgeError(f"toy parameter {key}={raw!r} is not a number; expected a number > 0") from None
    return Toy(name=name, modes=int(values["modes"]), scale=values["scale"], std=values["std"])


# -- metrics ------------------------------------------------------------------------------------------------------------


def _nearest_on_polyline(points: np.ndarray, verts: np.ndarray, cum: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance from each point to the polyline and the arc length of the nearest point on it."""
    a, seg = verts[:-1], np.diff(verts, axis=0)  # (S, 2)
    seg_len2 = np.maximum((seg**2).sum(axis=1), 1e-300)
    dist = np.empty(len(points))
    arc = np.empty(len(points))
    for lo in range(0, len(points), _CHUNK):
        p = points[lo:lo + _CHUNK, None, :]  # (c, 1, 2)
        t = np.clip(((p - a) * seg).sum(axis=2) / seg_len2, 0.0, 1.0)  # (c, S)
        d2 = ((a + t[..., None] * seg - p) ** 2).sum(axis=2)
        j = d2.argmin(axis=1)
        rows = np.arange(len(j))
        dist[lo:lo + _CHUNK] = np.sqrt(d2[rows, j])
        arc[lo:lo + _CHUNK] = cum[j] + t[rows, j] * np.sqrt(seg_len2[j])
    return dist, arc


def _nearest_center(points: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance from each point to its nearest centre and that centre's index."""
    dist = np.empty(len(points))
    mode = np.empty(len(points), dtype=np.int64)
    step = max(1, (_CHUNK * SPIRAL_SEGMENTS) // len(centers))
    for lo in range(0, len(points), step):
        d2 = ((points[lo:lo + step, None, :] - centers[None, :, :]) ** 2).sum(axis=2)  # (c, K)
        j = d2.argmin(axis=1)
        mode[lo:lo + step] = j
        dist[lo:lo + step] = np.sqrt(d2[np.arange(len(j)), j])
    return dist, mode


def mode_metrics(points: np.ndarray, toy: Toy) -> dict[str, float]:
    """``modes`` captured, ``high_quality`` fraction and ``reverse_kl`` of the mode histogram (rule: module docstring)."""
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise GanforgeError(f"toy metrics need points of shape (n, 2), got {pts.shape}")
    k = toy.modes
    n = len(pts)
    finite = np.isfinite(pts).all(axis=1)
    good = pts[finite]
    if toy.name == "spiral":
        verts, cum = toy._spiral_polyline()
        dist, arc = _nearest_on_polyline(good, verts, cum)
        mode = np.minimum((arc / cum[-1] * k).astype(np.int64), k - 1)
    else:
        dist, mode = _nearest_center(good, toy.centers())
    hq = dist / toy.std < HQ_STDS
    counts = np.bincount(mode[hq], minlength=k).astype(np.float64)
    total = counts.sum()
    if total > 0:
        q = (counts / total + KL_EPS) / (1.0 + k * KL_EPS)
        reverse_kl = float(np.sum(q * np.log(q * k)))
    else:
        reverse_kl = math.log(k)
    return {
        "modes": float(np.count_nonzero(counts)),
        "high_quality": float(total / n) if n else 0.0,
        "reverse_kl": max(reverse_kl, 0.0),
    }


# -- plot ---------------------------------------------------------------------------------------------------------------


def scatter_png(points: np.ndarray, toy: Toy, path: Path, title: str = "") -> None:
    """Generated points over the real density (a 2-D histogram of 50,000 real points, seed 0), mode centres marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    path = Path(path)
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    pts = pts[np.isfinite(pts).all(axis=1)]
    lim = toy.extent()
    real = toy.sample(50_000, seed=0)
    fig, ax = plt.subplots(figsize=(6, 6))
    try:
        ax.hist2d(real[:, 0], real[:, 1], bins=300, range=[[-lim, lim], [-lim, lim]], cmap="Blues", norm=LogNorm(),
                  cmin=1, zorder=0)
        if toy.name == "spiral":
            verts, _ = toy._spiral_polyline()
            ax.plot(verts[:, 0], verts[:, 1], color="tab:blue", lw=0.5, alpha=0.4, zorder=1)
        ax.scatter(pts[:, 0], pts[:, 1], s=3, c="tab:red", alpha=0.35, linewidths=0, zorder=2,
                   label=f"generated ({len(pts)})")
        c = toy.centers()
        ax.scatter(c[:, 0], c[:, 1], s=30, marker="x", c="black", linewidths=1.0, zorder=3, label="mode centres")
        outside = int(np.count_nonzero((np.abs(pts) > lim).any(axis=1)))
        if outside:
            ax.text(0.01, 0.01, f"{outside} points outside the view", transform=ax.transAxes, fontsize=8, va="bottom")
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_title(title or toy.describe(), fontsize=10)
        ax.legend(loc="upper right", fontsize=8, markerscale=2)
        fig.tight_layout()
        from ..files import atomic_write

        atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=100))
    finally:
        plt.close(fig)
