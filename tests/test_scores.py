"""Closed-form and reference values of the feature-space scores: FID, KID, IS, improved precision/recall."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganforge.metrics.scores import (
    feature_stats,
    fid_from_features,
    frechet_distance,
    inception_score,
    kid,
    precision_recall,
)


def _random_cov(rng: np.random.Generator, d: int, n: int | None = None) -> np.ndarray:
    w = rng.standard_normal((d, n or 2 * d))
    return w @ w.T / w.shape[1]


# --- FID -------------------------------------------------------------------------------------------------


def test_feature_stats_match_numpy_cov_ddof1_and_accept_torch() -> None:
    rng = np.random.default_rng(0)
    f = rng.standard_normal((50, 6))
    mu, sigma = feature_stats(f)
    assert mu.dtype == np.float64 and sigma.shape == (6, 6)
    np.testing.assert_allclose(mu, f.mean(0))
    np.testing.assert_allclose(sigma, np.cov(f, rowvar=False))
    np.testing.assert_allclose(sigma, (f - f.mean(0)).T @ (f - f.mean(0)) / 49)
    mu_t, sigma_t = feature_stats(torch.from_numpy(f).float())
    np.testing.assert_allclose(sigma_t, sigma, atol=1e-5)
    np.testing.assert_allclose(mu_t, mu, atol=1e-6)


def test_identical_statistics_give_exactly_zero() -> None:
    rng = np.random.default_rng(1)
    mu, sigma = rng.standard_normal(64), _random_cov(rng, 64)
    assert frechet_distance(mu, sigma, mu, sigma) == 0.0
    assert frechet_distance(mu, sigma, mu.copy(), sigma.copy()) == 0.0
    f = rng.standard_normal((200, 16))
    assert fid_from_features(f, f.copy()) == 0.0


def test_never_negative_where_rounding_would_make_it_negative() -> None:
    # sigma2 = sigma1 (1 + 1e-15): the true distance is ~1e-15, but the unclamped formula rounds to values of
    # either sign near 1e-13; the same steps as the module, without the clamp, find such negative cases
    negatives = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        mu, s1 = rng.standard_normal(64), _random_cov(rng, 64)
        s2 = s1 * (1 + 1e-15)
        w, v = np.linalg.eigh(s1)
        a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
        m = a @ s2 @ a
        raw = np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0, None)).sum()
        negatives += raw < 0
        value = frechet_distance(mu, s1, mu, s2)
        assert 0.0 <= value < 1e-9
    assert negatives > 0, "no seed reproduced a negative unclamped value: the test no longer exercises the clamp"


@pytest.mark.parametrize("d", [1, 8, 64])
def test_unit_gaussians_one_apart_give_d(d: int) -> None:
    eye = np.eye(d)
    assert math.isclose(frechet_distance(np.zeros(d), eye, np.ones(d), eye), d, rel_tol=1e-12)


def test_diagonal_covariances_closed_form() -> None:
    rng = np.random.default_rng(2)
    d = 64
    a, b = rng.uniform(0.1, 4.0, d), rng.uniform(0.1, 4.0, d)
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    got = frechet_distance(mu1, np.diag(a), mu2, np.diag(b))
    assert math.isclose(got, expected, rel_tol=1e-10)
    # without the mean term: the Wasserstein-2 distance of centred diagonal Gaussians
    assert math.isclose(frechet_distance(np.zeros(d), np.diag(a), np.zeros(d), np.diag(b)),
                        np.sum((np.sqrt(a) - np.sqrt(b)) ** 2), rel_tol=1e-10)


def test_singular_covariances_are_handled() -> None:
    # fewer samples than dimensions: rank-deficient sigma (eigenvalues ~0, some rounded negative)
    rng = np.random.default_rng(3)
    value = fid_from_features(rng.standard_normal((20, 64)), rng.standard_normal((20, 64)) + 0.5)
    assert math.isfinite(value) and value > 0


@pytest.mark.parametrize("d", [64, 512])
def test_eigen_route_equals_scipy_sqrtm_route(d: int) -> None:
    linalg = pytest.importorskip("scipy.linalg", reason="scipy is not installed: the pytorch-fid (sqrtm) reference route "
                                                        "is unavailable (pip install scipy to run this check)")
    rng = np.random.default_rng(d)
    mu1, mu2 = rng.standard_normal(d), 0.1 * rng.standard_normal(d)
    s1, s2 = _random_cov(rng, d), _random_cov(rng, d)
    # pytorch-fid's calculate_frechet_distance: sqrtm of the non-symmetric product, real part of its trace
    covmean = linalg.sqrtm(s1 @ s2)
    covmean = covmean[0] if isinstance(covmean, tuple) else covmean
    expected = float((mu1 - mu2) @ (mu1 - mu2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean.real))
    got = frechet_distance(mu1, s1, mu2, s2)
    assert math.isclose(got, expected, rel_tol=1e-6)


def test_frechet_distance_rejects_bad_inputs() -> None:
    eye = np.eye(4)
    with pytest.raises(ValueError, match="differ in dimension"):
        frechet_distance(np.zeros(4), eye, np.zeros(3), np.eye(3))
    with pytest.raises(ValueError, match=r"\(4, 4\)"):
        frechet_distance(np.zeros(4), eye, np.zeros(4), np.eye(3))
    with pytest.raises(ValueError, match="1-D"):
        frechet_distance(np.zeros((4, 1)), eye, np.zeros(4), eye)
    with pytest.raises(ValueError, match="NaN or infinite"):
        frechet_distance(np.zeros(4), eye, np.full(4, np.nan), eye)
    with pytest.raises(ValueError, match="NaN or infinite"):
        frechet_distance(np.zeros(4), np.diag([np.inf, 1.0, 1.0, 1.0]), np.zeros(4), eye)
    with pytest.raises(ValueError, match="at least 2 samples"):
        feature_stats(np.zeros((1, 4)))
    with pytest.raises(ValueError, match="2-D"):
        feature_stats(np.zeros(4))
    with pytest.raises(ValueError, match="d=4.*d=5"):
        fid_from_features(np.zeros((10, 4)), np.zeros((10, 5)))


# --- KID -------------------------------------------------------------------------------------------------


def test_kid_matches_the_unbiased_mmd2_written_out() -> None:
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((30, 5)), rng.standard_normal((30, 5)) + 0.3
    # one subset of all samples: order does not matter, so this is the plain estimator on x and y
    mean, std = kid(x, y, n_subsets=1, subset_size=30)
    m, d = x.shape

    def k(a: np.ndarray, b: np.ndarray) -> float:
        return (a @ b / d + 1) ** 3

    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j)
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j)
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m))
    assert math.isclose(mean, (xx + yy) / (m * (m - 1)) - 2 * xy / m**2, rel_tol=1e-10)
    assert std == 0.0


def test_kid_of_one_distribution_is_near_zero_and_grows_with_a_mean_shift() -> None:
    # Bound: over 50 independent draws of these sizes (500 x 32 per set, 10 subsets of 250) the KID of two
    # N(0, I) samples measured mean -0.0005, std 0.0036, max |KID| 0.0086; 0.02 is > 5 std, and ~50x below
    # the KID at a 0.5 shift (about 1.1)
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((500, 32)), rng.standard_normal((500, 32))
    same, _ = kid(x, y, n_subsets=10, subset_size=250)
    assert abs(same) < 0.02
    half, _ = kid(x, y + 0.5, n_subsets=10, subset_size=250)
    one, _ = kid(x, y + 1.0, n_subsets=10, subset_size=250)
    assert 0.02 < half < one


def test_kid_subsets_are_seeded_and_clipped_to_the_smaller_set() -> None:
    rng = np.random.default_rng(6)
    x, y = rng.standard_normal((40, 8)), rng.standard_normal((25, 8)) + 0.2
    assert kid(x, y, n_subsets=5, seed=1) == kid(x, y, n_subsets=5, seed=1)
    assert kid(x, y, n_subsets=5, seed=1) != kid(x, y, n_subsets=5, seed=2)
    mean, std = kid(torch.from_numpy(x), torch.from_numpy(y), n_subsets=5, seed=1)  # subset_size 1000 -> 25
    assert (mean, std) == kid(x, y, n_subsets=5, subset_size=25, seed=1)


def test_kid_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="d=3.*d=4"):
        kid(np.zeros((10, 3)), np.zeros((10, 4)))
    with pytest.raises(ValueError, match="at least 2 samples"):
        kid(np.zeros((1, 3)), np.zeros((10, 3)))
    with pytest.raises(ValueError, match="at least 2 samples"):
        kid(np.zeros((10, 3)), np.zeros((10, 3)), subset_size=1)


# --- Inception Score -------------------------------------------------------------------------------------


def test_inception_score_of_uniform_predictions_is_one() -> None:
    mean, std = inception_score(np.zeros((100, 10)), splits=10)
    assert mean == pytest.approx(1.0, abs=1e-12) and std == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("n_classes", [2, 10, 1000])
def test_inception_score_of_confident_balanced_predictions_is_the_class_count(n_classes: int) -> None:
    splits = 5
    labels = np.arange(splits * 2 * n_classes) % n_classes  # every consecutive split holds each class twice
    logits = np.full((labels.size, n_classes), -50.0)
    logits[np.arange(labels.size), labels] = 50.0
    mean, std = inception_score(torch.from_numpy(logits), splits=splits)
    assert mean == pytest.approx(n_classes, abs=1e-3) and std < 1e-3


def test_inception_score_splits_are_consecutive_unless_seeded() -> None:
    # first half all class 0, second half all class 1: each consecutive half is one class (IS 1), the whole is 2
    logits = np.full((20, 2), -50.0)
    logits[:10, 0] = logits[10:, 1] = 50.0
    assert inception_score(logits, splits=2)[0] == pytest.approx(1.0, abs=1e-6)
    assert inception_score(logits, splits=1)[0] == pytest.approx(2.0, abs=1e-6)
    assert inception_score(logits, splits=2, seed=0)[0] > 1.5  # shuffled splits mix the two classes


def test_inception_score_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="at least as many samples as splits"):
        inception_score(np.zeros((5, 10)), splits=10)
    with pytest.raises(ValueError, match="2-D"):
        inception_score(np.zeros(10))
    with pytest.raises(ValueError, match="NaN"):
        inception_score(np.full((10, 3), np.nan), splits=1)


# --- precision / recall ----------------------------------------------------------------------------------


def _clusters(rng: np.random.Generator, centers: np.ndarray, n: int) -> np.ndarray:
    return np.concatenate([c + rng.standard_normal((n, centers.shape[1])) for c in centers])


def test_precision_recall_of_identical_sets_is_one_one() -> None:
    rng = np.random.default_rng(7)
    x = rng.standard_normal((300, 64))
    assert precision_recall(x, x.copy()) == (1.0, 1.0)
    far = x + 1e4  # large norms: float32 distances stay exact enough thanks to the centring
    assert precision_recall(far, far.copy(), batch_size=64) == (1.0, 1.0)


def test_precision_recall_of_far_apart_sets_is_zero_zero() -> None:
    rng = np.random.default_rng(8)
    x = rng.standard_normal((300, 16))
    assert precision_recall(x, rng.standard_normal((200, 16)) + 100.0) == (0.0, 0.0)


def test_fake_covering_half_the_real_modes() -> None:
    rng = np.random.default_rng(9)
    centers = np.zeros((4, 2))
    centers[:, 0] = np.arange(4) * 100.0  # four clusters of unit spread, 100 apart
    real = _clusters(rng, centers, 500)
    # a slightly jittered copy of the real samples of two modes: exactly precision 1, recall 1/2
    fake = real[:1000] + 1e-3 * rng.standard_normal((1000, 2))
    assert precision_recall(real, fake, batch_size=300) == (1.0, 0.5)
    # fresh samples of two modes: a few tail samples fall outside the k-NN balls of the other set
    precision, recall = precision_recall(real, _clusters(rng, centers[:2], 500))
    assert precision > 0.95
    assert 0.45 < recall <= 0.5


def test_precision_recall_batching_does_not_change_the_result() -> None:
    rng = np.random.default_rng(10)
    real, fake = rng.standard_normal((257, 8)), rng.standard_normal((131, 8)) * 1.3 + 0.2
    reference = precision_recall(real, fake, k=5, batch_size=10_000)
    for batch_size in (1, 7, 128):
        assert precision_recall(real, fake, k=5, batch_size=batch_size) == reference
    assert 0 < reference[0] < 1 and 0 < reference[1] < 1


def test_precision_recall_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="d=3.*d=4"):
        precision_recall(np.zeros((10, 3)), np.zeros((10, 4)))
    with pytest.raises(ValueError, match="k\\+1=4"):
        precision_recall(np.zeros((3, 3)), np.zeros((10, 3)))
    with pytest.raises(ValueError, match="k must be"):
        precision_recall(np.zeros((10, 3)), np.zeros((10, 3)), k=0)
