"""The domain classifier (offline extractor for FD[classifier:NAME] and class accuracy): it learns real MNIST,
its file is self-describing and reloads, foreign files and unlabelled data are refused, and inputs of another
size or channel count are converted."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from ganforge.config import DataConfig
from ganforge.data.loader import Data
from ganforge.errors import GanforgeError
from ganforge.metrics.classifier import (
    DomainClassifier,
    classifier_features,
    load_classifier,
    name_of,
    to_classifier_input,
    train_classifier,
)

from .conftest import MNIST, write_images

CPU = torch.device("cpu")


@pytest.mark.skipif(not MNIST.is_dir(), reason="needs ../shared/data/mnist")
def test_classifier_learns_real_mnist(mnist_classifier: tuple[Path, dict]) -> None:
    # Width 16 (about a quarter of the default's compute), 12000 images, one epoch (the conftest fixture, which the
    # learning tests use as their judge): measured 0.9712 accuracy on the 10000 test images (seed 0) after 14.8 s of
    # training, 19.9 s with the evaluation, on 2 shared CPU cores.
    cfg = DataConfig(source=str(MNIST), image_size=28, channels=1, limit=12000)
    out, summary = mnist_classifier
    print(f"test accuracy {summary['test_accuracy']:.4f} after {summary['train_seconds']:.1f} s of training "
          f"({summary['seconds']:.1f} s with the evaluation)")
    assert summary["test_accuracy"] >= 0.95
    assert summary["train_images"] == 12000 and summary["test_images"] == 10000 and not summary["held_out"]
    assert summary["eval"].startswith("test split") and "state_dict" not in summary
    assert name_of(out) == "mnist"

    model, meta = load_classifier(out)
    assert not model.training
    assert meta["kind"] == "ganforge-classifier" and meta["class_names"] == [str(i) for i in range(10)]
    assert meta["n_classes"] == 10 and meta["image_size"] == 28 and meta["channels"] == 1
    assert meta["feature_dim"] == model.feature_dim == 128 and meta["data"]["limit"] == 12000
    assert meta["test_accuracy"] == summary["test_accuracy"] and "torch_version" in meta and meta["seconds"] > 0

    test = Data(replace(cfg, split="test", limit=2000), 256, 0, CPU)
    images, labels = test.images.float() / 127.5 - 1, test.labels
    feats, probs = classifier_features(model, images, batch_size=300)
    assert feats.shape == (2000, 128) and feats.dtype == torch.float32 and probs.shape == (2000, 10)
    assert torch.allclose(probs.sum(1), torch.ones(2000), atol=1e-5)
    acc = (probs.argmax(1) == labels).float().mean().item()
    print(f"classifier_features argmax accuracy on 2000 test images: {acc:.4f}")
    assert acc >= 0.95  # measured 0.9630
    # the same digits as 64x64 RGB (what a GAN trained at 64 draws) are converted back to 28x28 gray and still
    # recognised (measured 0.9545; 0.9630 at 28x28 gray)
    big = torch.nn.functional.interpolate(images, size=(64, 64), mode="bicubic", align_corners=False).repeat(1, 3, 1, 1)
    _, probs_big = classifier_features(model, big.clamp(-1, 1))
    acc_big = (probs_big.argmax(1) == labels).float().mean().item()
    print(f"the same images as 64x64 RGB: {acc_big:.4f}")
    assert acc_big >= 0.92


def test_features_shapes_and_conversions() -> None:
    torch.manual_seed(0)
    model = DomainClassifier(3, 16, 4, width=4, feature_dim=8)
    gray = torch.rand(5, 1, 20, 20) * 2 - 1
    feats, probs = classifier_features(model, gray, batch_size=2)
    assert feats.shape == (5, 8) and feats.dtype == torch.float32 and probs.shape == (5, 4)
    assert probs.dtype == torch.float32 and torch.allclose(probs.sum(1), torch.ones(5), atol=1e-6)
    assert (feats >= 0).all()  # the embedding is taken after its ReLU
    # batching does not change the result (eval mode, no batch statistics); the training flag is restored
    model.train()
    feats_one, probs_one = classifier_features(model, gray, batch_size=64)
    assert model.training
    assert torch.allclose(feats, feats_one, atol=1e-5) and torch.allclose(probs, probs_one, atol=1e-6)
    # gray -> RGB by repetition, resized 20 -> 16
    x = to_classifier_input(gray, 3, 16)
    assert x.shape == (5, 3, 16, 16) and torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 1], x[:, 2])
    # RGB -> gray by luminance: pure red, green, blue and white
    rgb = -torch.ones(4, 3, 16, 16)
    for i in range(3):
        rgb[i, i] = 1.0
    rgb[3] = 1.0
    g = to_classifier_input(rgb, 1, 16)
    assert g.shape == (4, 1, 16, 16)
    expected = torch.tensor([0.299, 0.587, 0.114, 1.0]) * 2 - 1  # luminance in [0, 1], back to [-1, 1]
    assert torch.allclose(g, expected[:, None, None, None].expand_as(g), atol=1e-6)
    # resizing keeps a flat image flat, both ways; a matching input is passed through unchanged
    flat = torch.full((2, 1, 40, 40), 0.25)
    assert torch.allclose(to_classifier_input(flat, 1, 16), torch.full((2, 1, 16, 16), 0.25), atol=1e-6)
    assert torch.allclose(to_classifier_input(flat[..., :8, :8], 1, 16), torch.full((2, 1, 16, 16), 0.25), atol=1e-6)
    assert torch.equal(to_classifier_input(g, 1, 16), g)
    # wrong shapes fail loudly; no images give empty results
    with pytest.raises(ValueError, match="channels"):
        to_classifier_input(torch.zeros(1, 2, 16, 16), 3, 16)
    with pytest.raises(ValueError, match="takes"):
        model(torch.zeros(1, 3, 20, 20))
    with pytest.raises(ValueError):
        classifier_features(model, torch.zeros(3, 16, 16))
    f0, p0 = classifier_features(model, torch.zeros(0, 3, 16, 16))
    assert f0.shape == (0, 8) and p0.shape == (0, 4)
    with pytest.raises(GanforgeError, match="16 to 64"):
        DomainClassifier(1, 8, 10)


def test_builtin_holds_out_a_tenth_and_reloads(tmp_path: Path) -> None:
    cfg = DataConfig(source="builtin:pizza", builtin_n=200, image_size=16, channels=3)
    out = tmp_path / "pizza-cls.pt"
    s = train_classifier(cfg, out, epochs=1, batch_size=32, width=4, feature_dim=16, progress=False)
    assert s["held_out"] and s["test_images"] == 20 and s["train_images"] == 180 and "held out" in s["eval"]
    assert 0.0 <= s["test_accuracy"] <= 1.0 and s["path"] == str(out)
    assert name_of(out) == "pizza" and not list(tmp_path.glob(".*tmp"))  # written atomically, no leftovers
    model, meta = load_classifier(out)
    assert (model.channels, model.image_size, model.feature_dim, model.width) == (3, 16, 16, 4)
    assert meta["eval"] == s["eval"] and meta["class_names"] == s["class_names"]
    feats, probs = classifier_features(model, torch.rand(3, 1, 32, 32) * 2 - 1)
    assert feats.shape == (3, 16) and probs.shape == (3, s["n_classes"])
    # the same seed trains the same weights
    again = train_classifier(cfg, tmp_path / "again.pt", epochs=1, batch_size=32, width=4, feature_dim=16, progress=False)
    m2, _ = load_classifier(tmp_path / "again.pt")
    assert again["test_accuracy"] == s["test_accuracy"]
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), m2.state_dict().values()))


def test_class_folders_use_their_test_split(tmp_path: Path, capsys: pytest.CaptureFixture,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    for split, n in (("train", 24), ("test", 6)):
        for k, cls in enumerate(("cat", "dog")):
            write_images(tmp_path / "set" / split / cls, n, size=(16, 16), seed=10 * k + len(split))
    cfg = DataConfig(source=str(tmp_path / "set"), image_size=16, channels=3)
    # progress off a terminal: plain lines (this crashed on the bar's keyword postfix before)
    monkeypatch.setenv("GANFORGE_PROGRESS_SECONDS", "0")
    s = train_classifier(cfg, tmp_path / "c.pt", epochs=1, batch_size=16, width=4, progress=True)
    assert not s["held_out"] and s["test_images"] == 12 and s["train_images"] == 48
    assert s["class_names"] == ["cat", "dog"] and s["eval"].startswith("test split")
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("ganforge: classifier ")]
    assert lines and "; epoch 1, loss " in lines[-1], lines


def test_foreign_files_are_refused(tmp_path: Path) -> None:
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    other = tmp_path / "gan.pt"
    torch.save({"format_version": 1, "recipe": "dcgan", "state": {}}, other)
    for p in (text, other):
        with pytest.raises(GanforgeError, match="is not a ganforge classifier file") as e:
            load_classifier(p)
        assert "ganforge classifier train" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(GanforgeError, match="no classifier file"):
        load_classifier(tmp_path / "missing.pt")


def test_unlabelled_data_is_refused(tmp_path: Path) -> None:
    write_images(tmp_path / "loose", 40, size=(16, 16))
    cfg = DataConfig(source=str(tmp_path / "loose"), image_size=16)
    with pytest.raises(GanforgeError, match="no class labels"):
        train_classifier(cfg, tmp_path / "x.pt", batch_size=8, width=4, progress=False)
    assert not (tmp_path / "x.pt").exists()


def test_name_of() -> None:
    assert name_of("runs/mnist_cls.pt") == "mnist"
    assert name_of(Path("/a/cifar10-cls.pt")) == "cifar10"
    assert name_of("faces.pt") == "faces" and name_of("my_cls_v2.pt") == "my_cls_v2"
    assert name_of("_cls.pt") == "_cls"
