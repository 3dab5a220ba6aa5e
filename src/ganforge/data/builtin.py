"""Built-in offline dataset: procedurally drawn "synthetic pizzas".

Every image comes from a :class:`PizzaScene`, a small set of resolution-independent parameters (all
coordinates are fractions of the image side): where the pizza sits and how big it is, crust, sauce and
cheese colours, a wobbly cheese edge, the background (plain, checked tablecloth or wooden planks),
an optional plate and slice cuts, and a list of toppings. Each scene has one dominant topping kind,
which is its class label (see :data:`CLASS_NAMES`); a few toppings of another kind may be mixed in.

Scene ``i`` of a dataset depends only on ``(seed, i)``, so datasets with the same seed share a prefix,
the same seed gives byte-identical images, and any resolution renders the same scenes.

Two renderers draw a scene: :func:`render_flat` (solid colours, clean outlines, supersampled for
antialiasing; bold shapes that a small DCGAN can learn at 32-64 px) and :func:`render_photo` (no
outlines; lighting, shading, texture noise, herb specks, blur, colour jitter and table clutter).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ..errors import GanforgeError, choices_error
from ..registry import Registry

BUILTIN_DATA: Registry = Registry("built-in dataset", choices_error)  # builtin:NAME -> a generator of images

CLASS_NAMES: tuple[str, ...] = ("pepperoni", "olive", "basil", "mushroom", "pepper")
STYLES: tuple[str, ...] = ("flat", "photo")
Color = tuple[int, int, int]

PEPPERONI, OLIVE, BASIL, MUSHROOM, PEPPER = range(5)
_SIZE = (0.068, 0.047, 0.076, 0.074, 0.07)  # topping radius (fraction of image) for a pizza of radius 0.4
_TOPPING_COLOR: tuple[Color, ...] = ((178, 32, 30), (38, 32, 38), (52, 140, 44), (198, 172, 140), (62, 168, 46))
_BACKGROUNDS: tuple[Color, ...] = (
    (165, 200, 228), (182, 222, 196), (72, 82, 96), (238, 230, 212), (44, 58, 96), (120, 82, 56), (205, 205, 210),
)
_CHECK_COLORS: tuple[Color, ...] = ((196, 40, 44), (48, 92, 170), (60, 140, 80))

# Unit shapes (centred near the origin, radius ~1), as (N, 2) arrays of x, y with y pointing down.
_T = np.linspace(0.0, 2.0 * np.pi, 64, endpoint=False)
_U = np.linspace(-1.0, 1.0, 15)
_LEAF_Y = 0.46 * np.sin(np.pi * (_U + 1.0) / 2.0) ** 0.8
_LEAF = np.concatenate([np.stack([_U, -_LEAF_Y + 0.12 * _U**2], 1), np.stack([_U, _LEAF_Y + 0.12 * _U**2], 1)[-2:0:-1]])
_CAP = np.linspace(0.0, np.pi, 15)
_MUSHROOM = np.concatenate(
    [np.stack([np.cos(_CAP), 0.08 - 0.85 * np.sin(_CAP)], 1), [[-0.34, 0.2], [-0.4, 0.82], [0.4, 0.82], [0.34, 0.2]]]
)
_GILLS = np.array([[-0.96, 0.08], [0.96, 0.08], [0.36, 0.24], [-0.36, 0.24]])
_ARC = np.linspace(-1.75, 1.75, 17)
_PEPPER = np.concatenate(
    [np.stack([np.cos(_ARC), np.sin(_ARC)], 1), 0.48 * np.stack([np.cos(_ARC), np.sin(_ARC)], 1)[::-1]]
) - [0.4, 0.0]


def _miter(p: np.ndarray) -> np.ndarray:
    """Outward offsets of a closed polygon's vertices that move every edge out by 1 (a stroke outline)."""
    e = np.roll(p, -1, 0) - p
    area = (p[:, 0] * np.roll(p[:, 1], -1) - np.roll(p[:, 0], -1) * p[:, 1]).sum()
    n = np.sign(area) * np.stack([e[:, 1], -e[:, 0]], 1) / np.hypot(e[:, 0], e[:, 1])[:, None]
    m = n + np.roll(n, 1, 0)
    return m / np.clip((m * n).sum(1, keepdims=True), 0.5, None)


_SHAPES = {k: (p, _miter(p)) for k, p in ((BASIL, _LEAF), (MUSHROOM, _MUSHROOM), (PEPPER, _PEPPER))}


@dataclass(frozen=True)
class Topping:
    kind: int  # index into CLASS_NAMES
    x: float  # centre, fraction of the image width
    y: float  # centre, fraction of the image height
    size: float  # radius, fraction of the image side
    rotation: float  # radians


@dataclass(frozen=True)
class PizzaScene:
    label: int  # dominant topping kind, index into CLASS_NAMES
    cx: float
    cy: float
    radius: float  # outer crust radius, fraction of the image side
    crust_width: float  # fraction of the radius
    crust_color: Color
    sauce_color: Color
    cheese_color: Color
    cheese_cover: float  # mean cheese radius as a fraction of the sauce radius
    cheese_wobble: tuple[tuple[int, float, float], ...]  # (harmonic, amplitude, phase) of the cheese edge
    crust_wobble: tuple[tuple[int, float, float], ...]
    browned: tuple[tuple[float, float, float], ...]  # toasted cheese spots (x, y, radius)
    background: Color
    pattern: int  # 0 plain, 1 checked tablecloth, 2 wooden planks
    pattern_color: Color
    pattern_scale: int  # checks / planks across the image
    plate: Color | None
    cuts: int  # cut lines through the centre (0 = uncut)
    cut_angle: float
    toppings: tuple[Topping, ...]
    clutter: tuple[tuple[float, float, float, Color], ...]  # photo style only: (x, y, radius, colour) discs
    noise_seed: int  # photo style only: seed of its lighting and texture noise


def _color(rng: np.random.Generator, base: "Color | np.ndarray", spread: float) -> Color:
    c = [min(255, max(0, int(b + v))) for b, v in zip(base, rng.normal(0.0, spread, 3))]
    return (c[0], c[1], c[2])


def _wobble(rng: np.random.Generator, lo: int, hi: int, amp: float) -> tuple[tuple[int, float, float], ...]:
    k = lo + np.argsort(rng.random(hi - lo))[:3]  # three distinct harmonics
    return tuple((int(h), float(a), float(p)) for h, a, p in zip(k, rng.uniform(0.3, 1.0, 3) * amp, rng.uniform(0, 6.3, 3)))


def _place(rng: np.random.Generator, kinds: list[int], scene_r: float, area_r: float, cx: float, cy: float) -> list[Topping]:
    """Scatter toppings inside a disc without much overlap (rejection sampling, a few tries each)."""
    placed: list[Topping] = []
    pos = np.empty((len(kinds), 3))  # x, y, size of the placed toppings
    sizes = np.array([_SIZE[k] for k in kinds]) * scene_r / 0.4 * rng.uniform(0.85, 1.15, len(kinds))
    rho = np.maximum(area_r - 0.8 * sizes, 0.0)[:, None] * np.sqrt(rng.random((len(kinds), 24)))
    phi = rng.uniform(0.0, 2.0 * np.pi, (len(kinds), 24))
    xs, ys, rot = cx + rho * np.cos(phi), cy + rho * np.sin(phi), rng.uniform(0, 2 * np.pi, len(kinds))
    for i, kind in enumerate(kinds):
        p = pos[: len(placed)]
        ok = (np.hypot(xs[i, :, None] - p[:, 0], ys[i, :, None] - p[:, 1]) >= 0.9 * (sizes[i] + p[:, 2])).all(1)
        j = int(np.argmax(ok))
        if ok[j]:
            pos[len(placed)] = xs[i, j], ys[i, j], sizes[i]
            placed.append(Topping(kind, float(xs[i, j]), float(ys[i, j]), float(sizes[i]), float(rot[i])))
    return placed


def _sample_scene(rng: np.random.Generator) -> PizzaScene:
    label = int(rng.integers(len(CLASS_NAMES)))
    r = float(rng.uniform(0.30, 0.45))
    off = min(0.07, 0.53 - r)
    cx, cy = (0.5 + rng.uniform(-off, off, 2)).tolist()
    cw = float(rng.uniform(0.09, 0.17))
    cover = float(rng.uniform(0.84, 0.95))
    n_main = int(rng.integers(4, 10)) + (3 if label == OLIVE else 0)
    kinds = [label] * n_main
    if rng.random() < 0.6:
        kinds += [(label + int(rng.integers(1, len(CLASS_NAMES)))) % len(CLASS_NAMES)] * int(rng.integers(1, 3))
    area = r * (1 - cw) * cover
    toppings = _place(rng, kinds, r, area, cx, cy)
    nb = int(rng.integers(0, 5))
    browned = tuple(
        (float(cx + a * np.cos(b)), float(cy + a * np.sin(b)), float(c))
        for a, b, c in zip(area * np.sqrt(rng.random(nb)), rng.uniform(0, 6.3, nb), rng.uniform(0.015, 0.035, nb) * r / 0.4)
    )
    pattern = int(np.searchsorted([0.55, 0.8], rng.random()))  # plain 55%, checks 25%, planks 20%
    bg = (_BACKGROUNDS[int(rng.integers(len(_BACKGROUNDS)))], (240, 236, 226), (150, 105, 68))[pattern]
    clutter = tuple(
        (float(x), float(y), float(s), _color(rng, _BACKGROUNDS[int(rng.integers(len(_BACKGROUNDS)))], 20))
        for x, y, s in zip(rng.uniform(-0.05, 1.05, 3), rng.uniform(-0.05, 1.05, 3), rng.uniform(0.05, 0.15, 3))
    )
    return PizzaScene(
        label=label, cx=cx, cy=cy, radius=r, crust_width=cw,
        crust_color=_color(rng, np.array([214, 158, 84]) * rng.uniform(0.72, 1.08), 8),
        sauce_color=_color(rng, (186, 38, 26), 12),
        cheese_color=_color(rng, (250, 214, 108), 9),
        cheese_cover=cover, cheese_wobble=_wobble(rng, 4, 12, 0.06), crust_wobble=_wobble(rng, 3, 9, 0.012),
        browned=browned,
        background=_color(rng, bg, 10), pattern=pattern,
        pattern_color=_color(rng, _CHECK_COLORS[int(rng.integers(3))] if pattern == 1 else np.array(bg) * 0.8, 8),
        pattern_scale=int(rng.integers(4, 9)),
        plate=_color(rng, (238, 238, 234), 6) if rng.random() < 0.4 else None,
        cuts=(0, 0, 3, 4)[int(rng.integers(4))], cut_angle=float(rng.uniform(0, np.pi)),
        toppings=tuple(toppings), clutter=clutter, noise_seed=int(rng.integers(2**31)),
    )


def sample_scenes(n: int, seed: int, start: int = 0) -> list[PizzaScene]:
    """Scenes ``start .. start+n-1`` of the dataset with this seed; scene ``i`` depends only on ``(seed, i)``."""
    return [_sample_scene(np.random.default_rng([seed % 2**64, i])) for i in range(start, start + n)]


def _dark(c: Color, f: float = 0.6) -> Color:
    return (int(c[0] * f), int(c[1] * f), int(c[2] * f))


def _draw_scene(scene: PizzaScene, S: int, outline: bool, clutter: bool = False) -> Image.Image:
    """Draw ``scene`` at ``S`` x ``S`` pixels with PIL (no antialiasing; callers supersample)."""
    im = Image.new("RGB", (S, S), scene.background)
    d = ImageDraw.Draw(im)
    w = max(1, round(S * 0.012)) if outline else 0
    sw = 0.009  # polygon stroke width, fraction of the image
    line: Callable[[Color], "Color | None"] = (lambda c: _dark(c)) if outline else (lambda c: None)

    def disc(x: float, y: float, r: float, fill: Color, edge: "Color | None" = None) -> None:
        d.ellipse([(x - r) * S, (y - r) * S, (x + r) * S, (y + r) * S], fill=fill, outline=edge, width=w)

    def shape(pts: np.ndarray, fill: Color, edge: "Color | None" = None, out: "np.ndarray | None" = None) -> None:
        if edge is not None and out is not None:  # outline = the polygon pushed out by the stroke width, drawn first
            d.polygon((out * S).ravel().tolist(), fill=edge)
        d.polygon((pts * S).ravel().tolist(), fill=fill)

    def ring(r: float, wob: tuple[tuple[int, float, float], ...]) -> np.ndarray:
        rr = r * (1.0 + sum(a * np.sin(k * _T + p) for k, a, p in wob))
        return np.stack([scene.cx + rr * np.cos(_T), scene.cy + rr * np.sin(_T)], 1)

    n = scene.pattern_scale
    if scene.pattern == 1:
        for i in range(n):
            for j in range(i % 2, n, 2):
                d.rectangle([i * S // n, j * S // n, (i + 1) * S // n - 1, (j + 1) * S // n - 1], fill=scene.pattern_color)
    elif scene.pattern == 2:
        for i in range(n):
            d.rectangle([i * S // n, 0, i * S // n + max(1, S // 96), S], fill=scene.pattern_color)
    if clutter:
        for x, y, r, c in scene.clutter:
            disc(x, y, r, c, _dark(c, 0.8))
    r, cx, cy = scene.radius, scene.cx, scene.cy
    rp = r * 1.13 if scene.plate else r
    disc(cx + 0.02, cy + 0.025, rp, _dark(scene.background, 0.7))
    if scene.plate:
        disc(cx, cy, rp, scene.plate, line(scene.plate))
    shape(ring(r, scene.crust_wobble), scene.crust_color, line(scene.crust_color), ring(r + sw, scene.crust_wobble))
    ri = r * (1 - scene.crust_width)
    disc(cx, cy, ri, scene.sauce_color, _dark(scene.crust_color, 0.8) if outline else None)
    shape(ring(ri * scene.cheese_cover, scene.cheese_wobble), scene.cheese_color)
    for x, y, rb in scene.browned:
        disc(x, y, rb, _dark(scene.cheese_color, 0.9))
    for k in range(scene.cuts):
        a = scene.cut_angle + k * np.pi / scene.cuts
        dx, dy = np.cos(a) * r, np.sin(a) * r
        d.line([(cx - dx) * S, (cy - dy) * S, (cx + dx) * S, (cy + dy) * S], fill=_dark(scene.sauce_color, 0.75), width=max(1, w * 2 // 3))
    for t in scene.toppings:
        c = _TOPPING_COLOR[t.kind]
        rot = np.array([[np.cos(t.rotation), np.sin(t.rotation)], [-np.sin(t.rotation), np.cos(t.rotation)]])
        tf: Callable[[np.ndarray], np.ndarray] = lambda p: np.asarray(p) @ rot * t.size + [t.x, t.y]  # noqa: E731
        if t.kind == PEPPERONI:
            disc(t.x, t.y, t.size, c, _dark(c, 0.7) if outline else None)
            for a in (t.rotation, t.rotation + 2.4, t.rotation + 4.1):
                disc(t.x + 0.45 * t.size * np.cos(a), t.y + 0.45 * t.size * np.sin(a), 0.16 * t.size, _dark(c, 0.8))
        elif t.kind == OLIVE:
            disc(t.x, t.y, t.size, c)
            disc(t.x, t.y, 0.42 * t.size, scene.cheese_color)
        else:
            unit, miter = _SHAPES[t.kind]
            edge = ((104, 82, 64) if t.kind == MUSHROOM else _dark(c, 0.62)) if outline else None
            shape(tf(unit), c, edge, tf(unit + miter * (sw / t.size)))
            if t.kind == BASIL:
                d.line((tf([[-0.75, 0.06], [0.75, 0.06]]) * S).ravel().tolist(), fill=_dark(c, 0.7), width=max(1, w // 2))
            elif t.kind == MUSHROOM:
                shape(tf(_GILLS), (138, 112, 90))
    return im


def render_flat(scene: PizzaScene, size: int) -> np.ndarray:
    """Flat cartoon rendering of ``scene``: uint8 ``[size, size, 3]``, drawn supersampled and box-filtered."""
    ss = 4 if size <= 64 else 2
    return np.asarray(_draw_scene(scene, size * ss, outline=True).reduce(ss))


def render_photo(scene: PizzaScene, size: int) -> np.ndarray:
    """"Photographic" rendering: soft edges, directional light, dome shading, mottled texture, herb specks,
    table clutter, blur, colour jitter and sensor noise. uint8 ``[size, size, 3]``."""
    S = size * 2
    im = _draw_scene(scene, S, outline=False, clutter=True)
    rng = np.random.default_rng(scene.noise_seed)
    d = ImageDraw.Draw(im)
    for x, y in zip(rng.normal(scene.cx, scene.radius * 0.4, 40), rng.normal(scene.cy, scene.radius * 0.4, 40)):
        if np.hypot(x - scene.cx, y - scene.cy) < scene.radius * 0.8:
            rs = S * 0.004
            d.ellipse([x * S - rs, y * S - rs, x * S + rs, y * S + rs], fill=(60, 80, 40))
    im = im.filter(ImageFilter.GaussianBlur(S * 0.004))
    a = np.asarray(im, np.float32) / 255.0
    yy, xx = (np.mgrid[0:S, 0:S].astype(np.float32) + 0.5) / S
    ang = rng.uniform(0, 2 * np.pi)
    light = 1.0 + rng.uniform(0.1, 0.3) * ((xx - 0.5) * np.cos(ang) + (yy - 0.5) * np.sin(ang))
    dist = np.hypot(xx - scene.cx, yy - scene.cy) / scene.radius
    dome = 1.0 + 0.12 * np.clip(1 - dist**2, 0, 1) - 0.35 * np.clip(1.12 - dist, 0, 0.12) * (dist > 1)
    lo = Image.fromarray(rng.random((10, 10)).astype(np.float32), "F").resize((S, S), Image.BICUBIC)
    a *= (light * dome * (0.9 + 0.2 * np.asarray(lo)))[..., None]
    a = np.clip(a * (1 + rng.normal(0, 0.05, 3)), 0, 1) ** rng.uniform(0.85, 1.15)
    out = np.asarray(Image.fromarray((a * 255).astype(np.uint8)).reduce(2), np.float32)
    out += rng.normal(0, 4.0, out.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class BuiltinData:
    images: np.ndarray  # uint8 [N, H, W, 3]
    labels: np.ndarray  # int64 [N]
    class_names: tuple[str, ...]


_RENDERERS: dict[str, Callable[[PizzaScene, int], np.ndarray]] = {"flat": render_flat, "photo": render_photo}


@BUILTIN_DATA.register("pizza")
def pizza(n: int, size: int, seed: int, style: str = "flat") -> BuiltinData:
    """``n`` synthetic pizza images of ``size`` x ``size`` pixels, labelled by dominant topping."""
    if style not in _RENDERERS:
        raise GanforgeError(f"unknown pizza style {style!r}; choices: {', '.join(STYLES)}")
    if size < 8:
        raise GanforgeError(f"pizza image size must be at least 8 pixels, got {size}")
    if n < 1:
        raise GanforgeError(f"pizza dataset needs at least 1 image, got n={n}")
    scenes = sample_scenes(n, seed)
    render = _RENDERERS[style]
    images = np.empty((n, size, size, 3), np.uint8)
    for i, scene in enumerate(scenes):
        images[i] = render(scene, size)
    return BuiltinData(images, np.array([s.label for s in scenes], np.int64), CLASS_NAMES)


@BUILTIN_DATA.register("pizza-photo")
def pizza_photo(n: int, size: int, seed: int) -> BuiltinData:
    """The same kind of scenes as ``pizza``, in the "photographic" style (CycleGAN's domain B)."""
    return pizza(n, size, seed, style="photo")
