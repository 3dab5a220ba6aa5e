"""Tests of the built-in synthetic pizza dataset (ganforge.data.builtin)."""

from __future__ import annotations

import numpy as np
import pytest

from ganforge.data.builtin import (
    CLASS_NAMES,
    BuiltinData,
    pizza,
    render_flat,
    sample_scenes,
)
from ganforge.errors import GanforgeError
from ganforge.data import BUILTIN_DATA


def test_shapes_and_dtypes() -> None:
    d = pizza(6, 64, 0)
    assert isinstance(d, BuiltinData)
    assert d.images.shape == (6, 64, 64, 3) and d.images.dtype == np.uint8
    assert d.labels.shape == (6,) and d.labels.dtype == np.int64
    assert d.class_names == CLASS_NAMES


def test_same_seed_gives_identical_bytes() -> None:
    a, b = pizza(8, 48, 3), pizza(8, 48, 3)
    assert a.images.tobytes() == b.images.tobytes()
    assert np.array_equal(a.labels, b.labels)


def test_prefix_property() -> None:
    long, short = pizza(10, 64, 0), pizza(5, 64, 0)
    assert np.array_equal(long.images[:5], short.images)
    assert np.array_equal(long.labels[:5], short.labels)
    assert sample_scenes(3, 7, start=2) == sample_scenes(5, 7)[2:]


def test_different_seeds_differ() -> None:
    a, b = pizza(4, 32, 0), pizza(4, 32, 1)
    assert not np.array_equal(a.images, b.images)
    assert all(not np.array_equal(x, y) for x, y in zip(a.images, b.images))


def test_images_within_a_dataset_differ() -> None:
    imgs = pizza(16, 32, 0).images.reshape(16, -1).astype(np.int32)
    dists = np.abs(imgs[:, None] - imgs[None]).mean(-1)
    assert dists[~np.eye(16, dtype=bool)].min() > 2.0


def test_labels_in_range_and_varied() -> None:
    labels = pizza(200, 16, 0).labels
    assert labels.min() >= 0 and labels.max() < len(CLASS_NAMES)
    assert len(np.unique(labels)) > 1
    assert len(np.unique(labels)) == len(CLASS_NAMES)  # 200 draws of 5 classes: all present


def test_label_is_the_dominant_topping() -> None:
    for s in sample_scenes(100, 0):
        kinds = [t.kind for t in s.toppings]
        assert kinds.count(s.label) > len(kinds) / 2


@pytest.mark.parametrize("size", [8, 32, 128])
def test_sizes(size: int) -> None:
    d = pizza(3, size, 0)
    assert d.images.shape == (3, size, size, 3)


def test_sizes_render_the_same_scenes() -> None:
    small = pizza(4, 32, 5).images.astype(np.float32)
    big = pizza(4, 128, 5).images.astype(np.float32)
    down = big.reshape(4, 32, 4, 32, 4, 3).mean((2, 4))
    assert np.abs(small - down).mean() < 12.0
    other = np.roll(down, 1, axis=0)  # same sizes, different scenes: much further apart
    assert np.abs(small - other).mean() > 2 * np.abs(small - down).mean()


def test_photo_style() -> None:
    d = pizza(3, 32, 0, style="photo")
    assert d.images.shape == (3, 32, 32, 3) and d.images.dtype == np.uint8
    assert d.images.tobytes() == pizza(3, 32, 0, style="photo").images.tobytes()
    assert np.array_equal(d.labels, pizza(3, 32, 0).labels)


def test_registered() -> None:
    assert BUILTIN_DATA.get("pizza") is pizza


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"n": 2, "size": 32, "seed": 0, "style": "oil"}, "'oil'"),
        ({"n": 2, "size": 4, "seed": 0}, "4"),
        ({"n": 0, "size": 32, "seed": 0}, "n=0"),
    ],
)
def test_bad_arguments(kwargs: dict, fragment: str) -> None:
    with pytest.raises(GanforgeError, match=fragment):
        pizza(**kwargs)


def test_bad_style_lists_choices() -> None:
    with pytest.raises(GanforgeError, match="flat"):
        pizza(2, 32, 0, style="watercolour")


def _warmth(region: np.ndarray) -> float:
    """Red + green minus twice blue: high for red sauce, yellow cheese and orange crust."""
    r, g, b = (region[..., i].astype(np.float64).mean() for i in range(3))
    return r + g - 2 * b


def test_a_pizza_is_drawn_in_the_centre() -> None:
    imgs = pizza(64, 64, 0).images
    centre = imgs[:, 24:40, 24:40]
    corners = np.concatenate([imgs[:, :8, :8], imgs[:, :8, -8:], imgs[:, -8:, :8], imgs[:, -8:, -8:]], axis=1)
    assert _warmth(centre) > _warmth(corners) + 80
    # the centre is mostly cheese: bright and yellow (red > blue, green > blue) in nearly every image
    c = centre.astype(np.float64).mean((1, 2))
    assert ((c[:, 0] > c[:, 2] + 40) & (c[:, 1] > c[:, 2] + 20)).mean() > 0.9


def test_flat_render_has_pizza_colours() -> None:
    for scene in sample_scenes(8, 0):
        img = render_flat(scene, 64).reshape(-1, 3).astype(np.int32)
        reddish = (img[:, 0] > 140) & (img[:, 1] < 90) & (img[:, 2] < 90)  # sauce ring / pepperoni
        yellow = (img[:, 0] > 200) & (img[:, 1] > 170) & (img[:, 2] < 150)  # cheese
        assert reddish.sum() > 20 and yellow.sum() > 64 * 64 * 0.08
