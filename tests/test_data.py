"""The data layer: folders, modes, corrupt files, class folders, IDX, CIFAR batches, builtin data,
per-batch augmentation, the decode cache and the streamed path."""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.config import DataConfig
from ganforge.data.loader import Data, augment, limited
from ganforge.data.sources import open_source
from ganforge.errors import GanforgeError
from ganforge.rng import seeded

from .conftest import MNIST, write_images

CPU = torch.device("cpu")


def data(cfg: DataConfig, batch: int = 4, seed: int = 0) -> Data:
    return Data(cfg, batch, seed, CPU)


def test_folder_recursive_with_every_mode(tmp_path: Path) -> None:
    write_images(tmp_path / "a", 3, mode="RGB")
    write_images(tmp_path / "a" / "deep", 2, mode="L", suffix=".jpg")
    write_images(tmp_path / "b", 2, mode="RGBA", suffix=".webp")
    write_images(tmp_path / "b", 2, mode="P", suffix=".bmp", seed=5)
    a16 = (np.arange(400, dtype=np.uint16).reshape(20, 20) * 160)
    Image.fromarray(a16).save(tmp_path / "b" / "sixteen.png")  # 16-bit grayscale
    d = data(DataConfig(source=str(tmp_path), image_size=16, channels=3))
    assert d.n == 10 and d.images.shape == (10, 3, 16, 16) and d.images.dtype == torch.uint8
    gray = data(DataConfig(source=str(tmp_path), image_size=16, channels=1))
    assert gray.images.shape == (10, 1, 16, 16)
    # the 16-bit ramp is rescaled, not clipped at 255: it spans the whole range
    idx = [i for i, f in enumerate(open_source(DataConfig(source=str(tmp_path))).files) if f.name == "sixteen.png"][0]
    ramp = gray.images[idx].float()
    assert ramp.max() > 200 and ramp.min() < 30


def test_resize_shorter_side_then_center_crop(tmp_path: Path) -> None:
    img = np.zeros((40, 80, 3), np.uint8)
    img[:, 20:60] = 255  # a white square in the middle of a wide image
    Image.fromarray(img).save(tmp_path / "wide.png")
    Image.fromarray(img).save(tmp_path / "wide2.png")
    d = data(DataConfig(source=str(tmp_path), image_size=20), batch=2)
    assert d.images.shape == (2, 3, 20, 20)
    assert d.images[0].float().mean() > 250  # the centre crop is the white square


def test_corrupt_and_truncated_files_are_skipped_with_one_warning(tmp_path: Path) -> None:
    paths = write_images(tmp_path, 6, size=(16, 16))
    paths[1].write_bytes(b"not an image")
    raw = paths[2].read_bytes()
    paths[2].write_bytes(raw[: len(raw) // 2])  # truncated
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        d = data(DataConfig(source=str(tmp_path), image_size=16, cache=False))
    msgs = [str(x.message) for x in w if "skipped" in str(x.message)]
    assert d.n == 4 and len(msgs) == 1 and "skipped 2 unreadable image(s) of 6" in msgs[0]


def test_all_corrupt_is_an_error(tmp_path: Path) -> None:
    for i in range(3):
        (tmp_path / f"x{i}.png").write_bytes(b"garbage")
    with pytest.raises(GanforgeError, match="none of the 3 images"):
        data(DataConfig(source=str(tmp_path), image_size=16))


def test_missing_empty_and_imageless_paths(tmp_path: Path) -> None:
    with pytest.raises(GanforgeError, match="does not exist"):
        data(DataConfig(source=str(tmp_path / "nope")))
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("hi")
    with pytest.raises(GanforgeError, match="no images"):
        data(DataConfig(source=str(tmp_path / "empty")))
    with pytest.raises(GanforgeError, match="data.source is empty"):
        data(DataConfig(source=""))
    with pytest.raises(GanforgeError, match="unknown built-in dataset 'pizzza'; choices: pizza"):
        data(DataConfig(source="builtin:pizzza"))


def test_mixed_sizes_without_resize_is_an_error(tmp_path: Path) -> None:
    write_images(tmp_path, 2, size=(16, 16))
    write_images(tmp_path, 1, size=(20, 12), seed=3, suffix=".jpg")
    for in_memory in ("yes", "no"):
        with pytest.raises(GanforgeError, match="mixed sizes.*data.resize=shorter"):
            data(DataConfig(source=str(tmp_path), image_size=16, resize="none", in_memory=in_memory), batch=2)
    assert data(DataConfig(source=str(tmp_path), image_size=16), batch=2).n == 3  # resizing handles them


def test_class_folders_give_sorted_labels(tmp_path: Path) -> None:
    write_images(tmp_path / "zebra", 2, seed=1)
    write_images(tmp_path / "cat", 3, seed=2)
    d = data(DataConfig(source=f"classes:{tmp_path}", image_size=16))
    assert d.class_names == ("cat", "zebra")
    assert sorted(d.labels.tolist()) == [0, 0, 0, 1, 1]
    write_images(tmp_path, 1, seed=3)  # a loose file
    with pytest.raises(GanforgeError, match="needs one sub-folder per class"):
        data(DataConfig(source=f"classes:{tmp_path}", image_size=16))


def test_split_subfolder_is_used(tmp_path: Path) -> None:
    write_images(tmp_path / "train", 5)
    write_images(tmp_path / "test", 2)
    assert data(DataConfig(source=str(tmp_path), image_size=16)).n == 5
    assert data(DataConfig(source=str(tmp_path), image_size=16, split="test"), batch=2).n == 2


@pytest.mark.skipif(not MNIST.is_dir(), reason="needs ../shared/data/mnist")
def test_mnist_idx_from_shared_data() -> None:
    d = data(DataConfig(source=str(MNIST), image_size=32, channels=1, split="test"), batch=64)
    assert d.n == 10_000 and d.images.shape == (10_000, 1, 32, 32)
    assert d.class_names == tuple("0123456789")
    assert torch.bincount(d.labels).tolist()[:3] == [980, 1135, 1032]  # the t10k label counts
    # digits are white on black: most pixels are dark, the centre is brighter than the border
    x = d.images.float()
    assert (x < 30).float().mean() > 0.7
    assert x[:, :, 12:20, 12:20].mean() > 3 * x[:, :, :4, :].mean()


def test_cifar_python_batches(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), b"labels": [0, 1, 2, 9]}, f)
    d = data(DataConfig(source=str(tmp_path), image_size=32))
    assert d.n == 20 and d.labels.tolist()[:4] == [0, 1, 2, 9] and d.class_names[9] == "truck"
    with open(folder / "data_batch_1", "rb") as f:
        first = np.asarray(pickle.load(f, encoding="bytes")[b"data"][0]).reshape(3, 32, 32)
    assert torch.equal(d.images[0], torch.from_numpy(first))  # channel-major rows, as the format says


def test_bare_name_not_downloaded_says_how_to_fetch() -> None:
    with pytest.raises(GanforgeError, match="ganforge data fetch cifar10"):
        data(DataConfig(source="cifar10"))


def test_builtin_pizza_and_limit() -> None:
    d = data(DataConfig(source="builtin:pizza", image_size=32, builtin_n=40, limit=30))
    assert d.n == 30 and d.images.shape == (30, 3, 32, 32) and len(d.class_names) >= 2


def test_limit_spreads_a_class_folder_over_its_classes(tmp_path: Path) -> None:
    for k, name in enumerate(("a", "b", "c")):
        write_images(tmp_path / name, 4, seed=k)
    for mode in ("yes", "no"):  # in memory and streamed
        d = data(DataConfig(source=f"folder:{tmp_path}", image_size=16, limit=7, in_memory=mode, cache=False))
        labels = d.labels.tolist() if d.images is not None else d.dataset.labels.tolist()
        assert d.n == 7 and labels == [0, 0, 0, 1, 1, 2, 2], mode  # the first of each class, then the second, ...
    # a source that mixes its classes (MNIST) keeps its first N; so does one without labels
    assert limited(np.array([3, 1, 3, 0, 2]), 5, 3).tolist() == [0, 1, 2]
    assert limited(None, 5, 3).tolist() == [0, 1, 2] and limited(np.array([0, 0, 1]), 3, 9).tolist() == [0, 1, 2]
    assert limited(np.array([0, 0, 0, 1, 1, 2]), 6, 4).tolist() == [0, 1, 3, 5]


def test_augment_random_crop_and_flip_are_consistent() -> None:
    x = torch.arange(2 * 1 * 6 * 6, dtype=torch.uint8).view(2, 1, 6, 6)
    cfg = DataConfig(image_size=4, load_size=6, crop="random", flip=True)
    a, b = augment(x, cfg, seeded(1)), augment(x, cfg, seeded(1))
    assert torch.equal(a, b) and a.shape == (2, 1, 4, 4) and a.min() >= -1 and a.max() <= 1
    # every output is a 4x4 window of its own input, possibly mirrored
    for i in range(2):
        img = (a[i, 0] + 1) * 127.5
        windows = [x[i, 0, r:r + 4, c:c + 4].float() for r in range(3) for c in range(3)]
        assert any(torch.allclose(img, w, atol=1e-3) or torch.allclose(img, w.flip(-1), atol=1e-3) for w in windows)
    centre = augment(x, DataConfig(image_size=4, load_size=6), seeded(1))
    assert torch.allclose((centre[0, 0] + 1) * 127.5, x[0, 0, 1:5, 1:5].float(), atol=1e-3)


def test_batches_are_a_function_of_seed_and_step(tmp_path: Path) -> None:
    write_images(tmp_path, 24, size=(12, 12))
    cfg = DataConfig(source=str(tmp_path), image_size=8, load_size=12, crop="random", flip=True)
    d = data(cfg)
    from_zero = [next(it) for it in [d.batches(0)] for _ in range(9)]
    resumed = d.batches(7)
    assert torch.equal(next(resumed).image, from_zero[7].image)
    # an epoch visits every image once
    seen = torch.cat([b.image for b in from_zero[:6]])
    assert seen.shape[0] == 24


def test_streamed_batches_equal_in_memory_batches(tmp_path: Path) -> None:
    write_images(tmp_path / "x", 10, size=(12, 12), seed=1)
    write_images(tmp_path / "y", 10, size=(12, 12), seed=2)
    common = dict(source=str(tmp_path), image_size=8, load_size=12, crop="random", flip=True)
    mem = data(DataConfig(**common, in_memory="yes"))
    stream = data(DataConfig(**common, in_memory="no", workers=0))
    assert mem.in_memory and not stream.in_memory
    for a, b in zip([next(it) for it in [mem.batches(3)] for _ in range(4)],
                    [next(it) for it in [stream.batches(3)] for _ in range(4)]):
        assert torch.equal(a.image, b.image) and torch.equal(a.label, b.label)


def test_decode_cache_is_written_and_keyed_by_content_and_preprocessing(tmp_path: Path) -> None:
    from ganforge.paths import cache_dir

    write_images(tmp_path / "imgs", 4, size=(16, 16))
    cfg = DataConfig(source=str(tmp_path / "imgs"), image_size=16)
    before = set((cache_dir() / "decoded").glob("*.npz"))
    first = data(cfg)
    after = set((cache_dir() / "decoded").glob("*.npz"))
    assert len(after - before) == 1
    assert torch.equal(data(cfg).images, first.images)  # read back from the cache
    assert data(DataConfig(source=str(tmp_path / "imgs"), image_size=8)).images.shape[-1] == 8
    write_images(tmp_path / "imgs", 4, size=(16, 16), seed=9)  # new content under the same names
    assert not torch.equal(data(cfg).images, first.images)


def test_fewer_images_than_a_batch(tmp_path: Path) -> None:
    write_images(tmp_path, 3)
    with pytest.raises(GanforgeError, match="has 3 images, fewer than train.batch_size=4"):
        data(DataConfig(source=str(tmp_path), image_size=16))


def test_array_sources_stay_in_memory_even_when_streaming_is_asked() -> None:
    d = data(DataConfig(source="builtin:pizza", image_size=16, builtin_n=8, in_memory="no"))
    assert d.in_memory and d.n == 8


def _write_idx(path: Path, array: np.ndarray) -> None:
    import gzip

    code = 0x08  # unsigned bytes
    header = bytes([0, 0, code, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_idx_written_by_the_test(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (10, 28, 28), dtype=np.uint8)
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", images)
    _write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.arange(10))
    d = data(DataConfig(source=f"fashion-mnist:{tmp_path}", image_size=28, channels=1))
    assert d.class_names[0] == "T-shirt/top" and d.class_names[9] == "Ankle boot"
    assert torch.equal(d.images[:, 0], torch.from_numpy(images)) and d.labels.tolist() == list(range(10))
    assert data(DataConfig(source=str(tmp_path), image_size=28, channels=1)).n == 10  # auto-detected as IDX


def test_truncated_idx_is_an_error(tmp_path: Path) -> None:
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((4, 28, 28)))
    import gzip

    raw = gzip.open(tmp_path / "train-images-idx3-ubyte.gz").read()
    with gzip.open(tmp_path / "train-images-idx3-ubyte.gz", "wb") as f:
        f.write(raw[:-100])
    with pytest.raises(GanforgeError, match="is truncated"):
        data(DataConfig(source=f"mnist:{tmp_path}", image_size=28, channels=1))
