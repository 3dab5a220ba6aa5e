"""Plots drawn from a run directory alone (matplotlib, Agg backend): every curve in ``metrics.jsonl``.

Series are grouped by kind (losses, D's scores, penalties, validation, evaluation, augmentation, learning
rates, speed, ...), and a group whose series differ in scale by more than :data:`SCALE_RATIO` (pix2pix's
100 x L1 beside the GAN terms, PSNR in dB beside SSIM) is drawn on separate panels, each with its own y axis,
so that no series flattens another. Legends sit outside the axes and never cover a curve.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

from .files import atomic_write
from .runlog import read_jsonl

SCORE_KEYS = ("d_real", "d_fake", "d_a_real", "d_a_fake", "d_b_real", "d_b_fake")
SCORE_NAMES = {"d_real": "D(x) real score", "d_fake": "D(G(z)) fake score", "d_a_real": "D_A(real A)",
               "d_a_fake": "D_A(fake A)", "d_b_real": "D_B(real B)", "d_b_fake": "D_B(fake B)"}
NOT_CURVES = ("step", "epoch", "time")  # the x axis and bookkeeping, not series
SCALE_RATIO = 30.0  # series of one group whose typical sizes differ more than this get separate panels
# (panel title, which keys), in drawing order; a key goes to the first group that takes it, the rest to "other"
GROUPS: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("losses", lambda k: k.startswith("loss_")),
    ("D's real/fake scores (probability)", lambda k: k in SCORE_KEYS),
    ("critic's Wasserstein estimate", lambda k: k == "w_distance"),
    ("penalties", lambda k: k in ("gp", "r1", "r2")),
    ("L1 to the target (training batches)", lambda k: k == "l1"),
    ("validation", lambda k: k.startswith("val_")),
    ("evaluation", lambda k: k.startswith("eval/")),
    ("toy mode metrics", lambda k: k in ("modes", "high_quality", "reverse_kl")),
    ("augmentation probability", lambda k: k == "augment_p"),
    ("learning rates and betas", lambda k: k.startswith(("lr", "beta"))),
    ("speed", lambda k: k == "images_per_s"),
)
STYLES = ("-", "--", ":", "-.")  # curves of one panel that overlap stay told apart
CURVES_TAG = "curves-2"  # in losses.png's metadata (key "ganforge"): the report may embed a fresh one as it is
# the layout, in inches: fixed margins (no layout engine: drawing stays well under a second per epoch)
WIDTH, PANEL_H, LEFT, LEGEND, TOP, BOTTOM = 13.0, 2.5, 0.8, 1.8, 0.45, 0.5


def plot_losses(run_dir: Path, out: Path | None = None) -> Path | None:
    """``losses.png`` (written atomically): the figure of :func:`loss_figure`."""
    fig = loss_figure(run_dir)
    if fig is None:
        return None
    import matplotlib.pyplot as plt

    out = out or run_dir / "losses.png"
    try:
        atomic_write(out, lambda f: fig.savefig(f, format="png", dpi=100, metadata={"ganforge": CURVES_TAG}))
    finally:
        plt.close(fig)
    return out


def series(rows: list[dict[str, Any]]) -> dict[str, list[tuple[float, float]]]:
    """key -> [(step, value)] for every numeric key of the rows (first-seen order), non-finite values left out."""
    out: dict[str, list[tuple[float, float]]] = {}
    for r in rows:
        step = r.get("step")
        if not isinstance(step, (int, float)):
            continue
        for k, v in r.items():
            if k in NOT_CURVES or isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                continue
            out.setdefault(k, []).append((step, float(v)))
    return out


def _typical(points: list[tuple[float, float]]) -> float:
    values = sorted(abs(v) for _, v in points)
    return values[len(values) // 2]


def panels(curves: dict[str, list[tuple[float, float]]]) -> list[tuple[str, list[str]]]:
    """[(title, keys)] in drawing order: the keys grouped by kind, each group split where scales differ."""
    grouped: dict[str, list[str]] = {}
    for k in curves:
        title = next((t for t, takes in GROUPS if takes(k)), "other")
        grouped.setdefault(title, []).append(k)
    order = [t for t, _ in GROUPS if t in grouped] + (["other"] if "other" in grouped else [])
    out: list[tuple[str, list[str]]] = []
    for title in order:
        keys = sorted(grouped[title])
        if title.startswith("D's"):  # probabilities: one axis from 0 to 1
            out.append((title, [k for k in SCORE_KEYS if k in keys]))
            continue
        clusters: list[list[str]] = []
        for k in sorted(keys, key=lambda k: _typical(curves[k])):
            size = _typical(curves[k])
            first = _typical(curves[clusters[-1][0]]) if clusters else 0.0
            if clusters and (size <= SCALE_RATIO * first or first == 0.0 and size == 0.0):
                clusters[-1].append(k)
            else:
                clusters.append([k])
        for c in clusters:
            named = f"{title} (around {_typical(curves[c[0]]):.2g})" if len(clusters) > 1 else title
            out.append((named, sorted(c)))
    return out


def loss_figure(run_dir: Path) -> Any:
    """Every numeric series of ``metrics.jsonl`` against the step, on the panels of :func:`panels` (two columns);
    None without metrics."""
    curves = series(read_jsonl(run_dir / "metrics.jsonl"))
    if not curves:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layout = panels(curves)
    cols = 2 if len(layout) > 1 else 1
    rows = math.ceil(len(layout) / cols)
    width = WIDTH if cols == 2 else WIDTH / 2 + LEFT
    height = rows * PANEL_H + (rows - 1) * (TOP + BOTTOM) + TOP + BOTTOM
    axes_w = (width - LEFT - LEGEND - (cols - 1) * (LEGEND + LEFT)) / cols
    axes_h = PANEL_H
    fig, axes = plt.subplots(rows, cols, figsize=(width, height), squeeze=False)
    fig.subplots_adjust(left=LEFT / width, right=1 - LEGEND / width, bottom=BOTTOM / height, top=1 - TOP / height,
                        wspace=(LEGEND + LEFT) / axes_w, hspace=(TOP + BOTTOM) / axes_h)
    for ax, (title, keys) in zip(axes.flat, layout):
        for i, k in enumerate(keys):
            pts = curves[k]
            label = SCORE_NAMES.get(k, k)
            ax.plot(*zip(*pts), label=label if len(label) <= 26 else label[:25] + "…", linestyle=STYLES[i % len(STYLES)],
                    marker="o" if len(pts) <= 30 else None, markersize=3)
        if title.startswith("D's"):
            ax.set_ylim(0, 1)
        ax.set_title(title, fontsize=10, loc="left")
        ax.set_xlabel("step", fontsize=8, labelpad=1)
        ax.tick_params(labelsize=8)
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 4), useOffset=False)
        ax.grid(alpha=0.3)
        # outside the axes, to the right (the margin is kept for it): a legend never covers a curve
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False, borderaxespad=0)
    for ax in list(axes.flat)[len(layout):]:
        ax.set_visible(False)
    return fig
