"""2-D toy distributions (ring / grid / spiral): geometry, sampling, parsing, mode metrics and the scatter plot."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganforge.data.toy import TOY_NAMES, Toy, mode_metrics, parse_toy, scatter_png
from ganforge.errors import GanforgeError

KL_TOL = 1e-6  # the smoothing epsilon (1e-10) moves the extreme values by far less than this


@pytest.fixture(params=TOY_NAMES)
def toy(request: pytest.FixtureRequest) -> Toy:
    return parse_toy(request.param)


# -- defaults and geometry ----------------------------------------------------------------------------------------------


def test_defaults_follow_the_papers() -> None:
    assert parse_toy("ring") == Toy("ring", 8, 2.0, 0.02)
    assert parse_toy("grid") == Toy("grid", 25, 2.0, 0.05)
    assert parse_toy("spiral") == Toy("spiral", 12, 2.0, 0.05)
    assert TOY_NAMES == ("ring", "grid", "spiral")


def test_grid_centres_are_the_5x5_lattice() -> None:
    c = parse_toy("grid").centers()
    assert c.shape == (25, 2) and c.dtype == np.float64
    expected = {(float(x), float(y)) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)}
    assert {(float(x), float(y)) for x, y in c} == expected
    c9 = parse_toy("grid:modes=9,scale=1").centers()
    assert sorted(set(c9[:, 0].tolist())) == [-1.0, 0.0, 1.0]


def test_ring_centres_lie_on_the_circle() -> None:
    c = parse_toy("ring").centers()
    assert c.shape == (8, 2) and c.dtype == np.float64
    np.testing.assert_allclose(np.linalg.norm(c, axis=1), 2.0, atol=1e-12)
    angles = np.sort(np.mod(np.arctan2(c[:, 1], c[:, 0]), 2 * np.pi))
    np.testing.assert_allclose(np.diff(angles), 2 * np.pi / 8, atol=1e-12)  # equally spaced
    np.testing.assert_allclose(np.linalg.norm(parse_toy("ring:modes=5,scale=3.5").centers(), axis=1), 3.5)


def test_spiral_centres_are_equally_spaced_along_the_curve() -> None:
    t = parse_toy("spiral")
    c = t.centers()
    assert c.shape == (12, 2) and c.dtype == np.float64
    r = np.linalg.norm(c, axis=1)
    assert np.all(np.diff(r) > 0) and r.max() <= 2.0  # moving outwards, inside the outer radius
    gaps = np.linalg.norm(np.diff(c, axis=0), axis=1)
    assert gaps.max() / gaps.min() < 1.5  # equal arc length -> similar chords
    assert len(parse_toy("spiral:modes=30").centers()) == 30


def test_describe() -> None:
    assert parse_toy("ring").describe() == "toy:ring (8 modes, radius 2, std 0.02)"
    assert parse_toy("grid").describe() == "toy:grid (25 modes, 5x5, spacing 2, std 0.05)"
    assert parse_toy("spiral:scale=1.5").describe() == "toy:spiral (12 modes, outer radius 1.5, std 0.05)"


# -- sampling -----------------------------------------------------------------------------------------------------------


def test_sample_shape_dtype_and_determinism(toy: Toy) -> None:
    a = toy.sample(300, seed=7)
    assert a.shape == (300, 2) and a.dtype == np.float32
    assert np.array_equal(a, toy.sample(300, seed=7))
    assert not np.array_equal(a, toy.sample(300, seed=8))
    assert toy.sample(0, seed=1).shape == (0, 2)
    with pytest.raises(GanforgeError, match="sample size"):
        toy.sample(-1, seed=0)


def test_sample_modes_are_equally_likely() -> None:
    for t in (parse_toy("ring"), parse_toy("grid")):
        x = t.sample(20_000, seed=3).astype(np.float64)
        nearest = np.argmin(((x[:, None] - t.centers()[None]) ** 2).sum(-1), axis=1)
        freq = np.bincount(nearest, minlength=t.modes) / len(x)
        np.testing.assert_allclose(freq, 1 / t.modes, atol=0.25 / t.modes)
        spread = np.linalg.norm(x - t.centers()[nearest], axis=1)
        assert abs(np.sqrt((spread**2).mean() / 2) - t.std) < 0.1 * t.std  # per-axis std as configured


# -- metrics ------------------------------------------------------------------------------------------------------------


def test_real_sample_captures_every_mode(toy: Toy) -> None:
    m = mode_metrics(toy.sample(2500, seed=0), toy)
    assert set(m) == {"modes", "high_quality", "reverse_kl"}
    assert all(isinstance(v, float) for v in m.values())
    assert m["modes"] == toy.modes
    assert m["high_quality"] > 0.95
    assert 0.0 <= m["reverse_kl"] < 0.02


def test_points_exactly_at_every_centre(toy: Toy) -> None:
    m = mode_metrics(np.repeat(toy.centers(), 3, axis=0), toy)
    assert m["modes"] == toy.modes
    assert m["high_quality"] == 1.0
    assert m["reverse_kl"] == pytest.approx(0.0, abs=KL_TOL)


def test_all_points_on_one_centre_is_total_collapse(toy: Toy) -> None:
    c = toy.centers()[toy.modes // 2]
    pts = c + np.random.default_rng(0).normal(scale=toy.std, size=(500, 2))
    m = mode_metrics(pts, toy)
    assert m["modes"] == 1.0
    assert m["high_quality"] > 0.95
    assert m["reverse_kl"] == pytest.approx(math.log(toy.modes), abs=KL_TOL)


def test_two_modes_give_log_k_over_two() -> None:
    t = parse_toy("grid")
    pts = np.concatenate([np.tile(t.centers()[0], (10, 1)), np.tile(t.centers()[24], (10, 1))])
    m = mode_metrics(pts, t)
    assert m["modes"] == 2.0
    assert m["reverse_kl"] == pytest.approx(math.log(25 / 2), abs=KL_TOL)


def test_far_points_are_not_high_quality(toy: Toy) -> None:
    pts = np.array([[50.0, 50.0], [-30.0, 7.0], [0.0, 100.0]])
    m = mode_metrics(pts, toy)
    assert m["modes"] == 0.0
    assert m["high_quality"] == 0.0
    assert m["reverse_kl"] == pytest.approx(math.log(toy.modes))  # no high-quality point: the worst value
    assert np.isfinite(m["reverse_kl"])


def test_three_std_threshold() -> None:
    t = parse_toy("ring")  # std 0.02: 3 std = 0.06 around (2, 0)
    inside = np.array([[2.0 + 0.059, 0.0], [2.0, -0.059]])
    outside = np.array([[2.0 + 0.061, 0.0], [2.0, 0.07]])
    assert mode_metrics(inside, t)["high_quality"] == 1.0
    assert mode_metrics(outside, t)["high_quality"] == 0.0
    assert mode_metrics(np.concatenate([inside, outside]), t)["high_quality"] == 0.5


def test_spiral_quality_is_distance_to_the_curve() -> None:
    t = parse_toy("spiral")
    c = t.centers()
    between = (c[3] + c[4]) / 2  # off the centres: the chord midpoint is near the curve (the curve bends slightly)
    assert mode_metrics(between[None], t)["high_quality"] == 1.0
    origin_gap = np.zeros((1, 2))  # the spiral starts at radius scale/6: the origin is off the curve
    assert mode_metrics(origin_gap, t)["high_quality"] == 0.0


def test_non_finite_points_are_not_high_quality(toy: Toy) -> None:
    c = toy.centers()
    pts = np.concatenate([c, [[np.nan, 0.0], [np.inf, 1.0], [0.0, -np.inf]]])
    with np.errstate(all="raise"):
        m = mode_metrics(pts, toy)
    assert m["modes"] == toy.modes
    assert m["high_quality"] == pytest.approx(toy.modes / (toy.modes + 3))
    assert mode_metrics(np.full((4, 2), np.nan), toy)["high_quality"] == 0.0


def test_metrics_reject_bad_shapes() -> None:
    with pytest.raises(GanforgeError, match=r"shape \(n, 2\)"):
        mode_metrics(np.zeros((4, 3)), parse_toy("ring"))


# -- parsing ------------------------------------------------------------------------------------------------------------


def test_parse_parameters() -> None:
    assert parse_toy("ring:modes=8,scale=2,std=0.02") == Toy("ring", 8, 2.0, 0.02)
    assert parse_toy("ring:modes=12") == Toy("ring", 12, 2.0, 0.02)
    assert parse_toy("grid:std=0.1, scale=1.5") == Toy("grid", 25, 1.5, 0.1)
    assert parse_toy("grid:modes=49") == Toy("grid", 49, 2.0, 0.05)
    assert parse_toy(" Spiral : modes = 6 ") == Toy("spiral", 6, 2.0, 0.05)
    t = parse_toy("ring:std=1e-2")
    assert t.std == 0.01 and isinstance(t.modes, int) and isinstance(t.scale, float)


@pytest.mark.parametrize(("spec", "pattern"), [
    ("rin", r"^unknown toy distribution 'rin'; choices: ring, grid, spiral$"),
    ("", r"unknown toy distribution ''"),
    ("ring:mode=8", r"unknown toy parameter 'mode'.*allowed: modes, scale, std"),
    ("ring:modes", r"bad toy parameter 'modes'.*key=value"),
    ("ring:modes=abc", r"modes='abc' is not an integer"),
    ("ring:modes=2.5", r"modes='2.5' is not an integer"),
    ("ring:scale=big", r"scale='big' is not a number"),
    ("ring:std=", r"std='' is not a number"),
    ("ring:modes=0", r"modes must be an integer >= 1, got 0"),
    ("spiral:modes=-3", r"modes must be an integer >= 1, got -3"),
    ("grid:modes=24", r"grid: modes must be a perfect square .*got 24"),
    ("ring:scale=0", r"scale must be a finite number > 0, got 0"),
    ("grid:scale=-2", r"scale must be a finite number > 0, got -2"),
    ("ring:std=0", r"std must be a finite number > 0, got 0"),
    ("ring:std=-0.1", r"std must be a finite number > 0"),
    ("ring:std=nan", r"std must be a finite number > 0"),
    ("ring:scale=inf", r"scale must be a finite number > 0"),
    ("ring:modes=8,modes=9", r"'modes' given twice"),
])
def test_parse_errors(spec: str, pattern: str) -> None:
    with pytest.raises(GanforgeError, match=pattern) as info:
        parse_toy(spec)
    assert "\n" not in str(info.value)


def test_direct_construction_is_checked() -> None:
    with pytest.raises(GanforgeError, match="perfect square"):
        Toy("grid", 10, 2.0, 0.05)
    with pytest.raises(GanforgeError, match="unknown toy distribution 'moon'"):
        Toy("moon", 8, 2.0, 0.02)
    with pytest.raises(GanforgeError, match="std must be"):
        Toy("ring", 8, 2.0, 0.0)


# -- plot ---------------------------------------------------------------------------------------------------------------


def test_scatter_png_writes_a_readable_png(tmp_path: Path) -> None:
    t = parse_toy("spiral")
    pts = np.concatenate([t.sample(500, seed=1), [[np.nan, 0.0], [40.0, 40.0]]])
    out = tmp_path / "deep" / "er" / "toy.png"
    scatter_png(pts, t, out, title="step 100")
    with Image.open(out) as im:
        assert im.format == "PNG"
        w, h = im.size
        assert w > 200 and h > 200
        assert len(im.convert("RGB").getcolors(maxcolors=1 << 20) or []) > 10  # not a blank canvas
    assert [p.name for p in out.parent.iterdir()] == ["toy.png"]  # no temp file left behind
    scatter_png(parse_toy("grid").sample(100, seed=0), parse_toy("grid"), out)  # overwrites in place
    assert [p.name for p in out.parent.iterdir()] == ["toy.png"]
