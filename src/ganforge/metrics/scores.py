"""Sample-quality scores on feature arrays: FID, KID, Inception Score, improved precision/recall.

Every function is pure: it takes features (or logits) already extracted by some network, as numpy arrays
or torch tensors of shape (N, d), and returns Python floats. The statistics are computed in float64 numpy;
only the k-NN distances of precision/recall run in float32 torch (``torch.cdist``, in row batches).

Fréchet Inception Distance -- Heusel, Ramsauer, Unterthiner, Nessler & Hochreiter, "GANs Trained by a
Two Time-Scale Update Rule Converge to a Local Nash Equilibrium", NeurIPS 2017; the Fréchet (Wasserstein-2)
distance between two Gaussians of Dowson & Landau, J. Multivariate Anal. 1982:

    d^2((mu1, S1), (mu2, S2)) = ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^{1/2}),

with mu and S the mean and covariance (ddof=1, as pytorch-fid's ``np.cov(rowvar=False)``) of each set of
features. The trace term is computed without a generic (Schur) square root of the non-symmetric product:
for PSD S1, S2 with A = S1^{1/2} (symmetric, from ``eigh``), S1 S2 = A (A S2) is similar to A S2 A, which
is symmetric PSD, so tr((S1 S2)^{1/2}) = sum_i sqrt(lambda_i(A S2 A)), exactly. Tiny negative eigenvalues
left by rounding are clipped to 0 and the distance is clamped at 0.

Kernel Inception Distance -- Bińkowski, Sutherland, Arbel & Gretton, "Demystifying MMD GANs", ICLR 2018:
the unbiased estimator of the squared MMD (Gretton et al., "A Kernel Two-Sample Test", JMLR 2012),

    MMD^2_u = 1/(m(m-1)) sum_{i!=j} [k(x_i, x_j) + k(y_i, y_j)] - 2/m^2 sum_{i,j} k(x_i, y_j),

with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over random subsets of m samples
drawn without replacement from each set (mean and population std over the subsets), as torch-fidelity
and clean-fid report it. The estimate is unbiased, so it can be slightly negative for equal distributions.

Inception Score -- Salimans, Goodfellow, Zaremba, Cheung, Radford & Chen, "Improved Techniques for
Training GANs", NeurIPS 2016:

    IS = exp(E_x KL(p(y|x) || p(y))),   p(y) = E_x p(y|x),

p(y|x) the softmax of the classifier's logits; computed on ``splits`` consecutive chunks (mean and
population std of the per-chunk scores), as the OpenAI reference and torch-fidelity do.

Improved precision and recall -- Kynkäänniemi, Karras, Laine, Lehtinen & Aila, "Improved Precision and
Recall Metric for Assessing Generative Models", NeurIPS 2019:

    f(phi, Phi) = 1 if ||phi - phi'|| <= ||phi' - NN_k(phi', Phi)|| for at least one phi' in Phi, else 0,
    precision = mean over fake phi_g of f(phi_g, Phi_real),  recall = mean over real phi_r of f(phi_r, Phi_fake),

NN_k(phi', Phi) the k-th nearest neighbour of phi' in Phi other than itself (k = 3 in the paper).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["feature_stats", "fid_from_features", "frechet_distance", "inception_score", "kid", "precision_recall"]


def _as_2d(x: Any, name: str, dtype: type = np.float64) -> np.ndarray:
    """``x`` (numpy, torch or nested sequence) as a finite 2-D numpy array of ``dtype``."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().to(torch.float64).numpy()
    arr = np.asarray(x, dtype=dtype)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (N, d), got shape {arr.shape}")
    if arr.shape[1] < 1:
        raise ValueError(f"{name} has no feature dimension: shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _as_array(x: Any, name: str, ndim: int) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().to(torch.float64).numpy()
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def feature_stats(feats: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mean (d,) and covariance (d, d) of (N, d) features, ddof=1 (``np.cov(feats, rowvar=False)``)."""
    f = _as_2d(feats, "feats")
    if f.shape[0] < 2:
        raise ValueError(f"feature_stats needs at least 2 samples for a covariance, got {f.shape[0]}")
    return f.mean(axis=0), np.atleast_2d(np.cov(f, rowvar=False))


def _sqrt_psd(s: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric PSD matrix (eigenvalues below 0 clipped to 0)."""
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2) (the FID of the module docstring), >= 0."""
    mu1, mu2 = _as_array(mu1, "mu1", 1), _as_array(mu2, "mu2", 1)
    s1, s2 = _as_array(sigma1, "sigma1", 2), _as_array(sigma2, "sigma2", 2)
    d = mu1.shape[0]
    if mu2.shape != (d,):
        raise ValueError(f"mu1 {mu1.shape} and mu2 {mu2.shape} differ in dimension")
    if s1.shape != (d, d) or s2.shape != (d, d):
        raise ValueError(f"sigma1 {s1.shape} and sigma2 {s2.shape} must both be ({d}, {d}) to match the means")
    if np.array_equal(mu1, mu2) and np.array_equal(s1, s2):
        return 0.0  # the same Gaussian: exactly 0, not a rounding residue
    s1, s2 = (s1 + s1.T) / 2, (s2 + s2.T) / 2
    # tr sqrt(s1^1/2 s2 s1^1/2) = sum sqrt(eig(s1 s2)); with the Cholesky factor s1 = L L^T the symmetric L^T s2 L is
    # similar to s1 s2, so one Cholesky and one eigvalsh give it (2048-d: ~0.5 s instead of ~3 s with the square
    # root's full eigendecomposition); a singular s1 (fewer samples than dimensions) takes the square-root route
    try:
        chol = np.linalg.cholesky(s1)
        m = chol.T @ s2 @ chol
    except np.linalg.LinAlgError:
        a = _sqrt_psd(s1)
        m = a @ s2 @ a
    tr_covmean = float(np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0.0, None)).sum())
    diff = mu1 - mu2
    value = float(diff @ diff) + float(np.trace(s1)) + float(np.trace(s2)) - 2.0 * tr_covmean
    return max(value, 0.0)


def fid_from_features(real: Any, fake: Any) -> float:
    """FID between two (N, d) feature sets: ``frechet_distance`` of their ``feature_stats``."""
    mu1, s1 = feature_stats(real)
    mu2, s2 = feature_stats(fake)
    if mu1.shape != mu2.shape:
        raise ValueError(f"real features have d={mu1.shape[0]}, fake features d={mu2.shape[0]}")
    return frechet_distance(mu1, s1, mu2, s2)


def _mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 of two equal-size samples under k(x, y) = (x.y / d + 1)^3."""
    m, d = x.shape
    k_xx = (x @ x.T / d + 1.0) ** 3
    k_yy = (y @ y.T / d + 1.0) ** 3
    k_xy = (x @ y.T / d + 1.0) ** 3
    within = (k_xx.sum() - np.trace(k_xx)) + (k_yy.sum() - np.trace(k_yy))
    return float(within / (m * (m - 1)) - 2.0 * k_xy.sum() / (m * m))


def kid(feats1: Any, feats2: Any, n_subsets: int = 100, subset_size: int = 1000, seed: int = 0) -> tuple[float, float]:
    """Kernel Inception Distance: (mean, std) of the unbiased MMD^2 over ``n_subsets`` random subsets.

    Each subset draws min(subset_size, N1, N2) samples without replacement from each set, from
    ``np.random.RandomState(seed)`` (first set, then second, as torch-fidelity does). The std is the
    population std (ddof=0) of the per-subset estimates.
    """
    x, y = _as_2d(feats1, "feats1"), _as_2d(feats2, "feats2")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"feats1 has d={x.shape[1]}, feats2 d={y.shape[1]}")
    if n_subsets < 1:
        raise ValueError(f"n_subsets must be >= 1, got {n_subsets}")
    m = min(int(subset_size), x.shape[0], y.shape[0])
    if m < 2:
        raise ValueError(f"KID needs at least 2 samples per subset, got {m} "
                         f"(subset_size={subset_size}, N1={x.shape[0]}, N2={y.shape[0]})")
    rng = np.random.RandomState(seed)
    mmds = np.empty(n_subsets)
    for i in range(n_subsets):
        xs = x[rng.choice(x.shape[0], m, replace=False)]
        ys = y[rng.choice(y.shape[0], m, replace=False)]
        mmds[i] = _mmd2_unbiased(xs, ys)
    return float(mmds.mean()), float(mmds.std())


def inception_score(logits: Any, splits: int = 10, seed: int | None = None) -> tuple[float, float]:
    """Inception Score of (N, C) classifier logits: (mean, std) over ``splits`` chunks.

    With ``seed=None`` the chunks are consecutive in the given order (the OpenAI reference); an integer
    seed first permutes the samples with ``np.random.default_rng(seed)`` (torch-fidelity's shuffle option).
    """
    z = _as_2d(logits, "logits")
    n = z.shape[0]
    if splits < 1:
        raise ValueError(f"splits must be >= 1, got {splits}")
    if n < splits:
        raise ValueError(f"inception_score needs at least as many samples as splits: {n} < {splits}")
    if seed is not None:
        z = z[np.random.default_rng(seed).permutation(n)]
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    p = np.exp(log_p)
    scores = np.empty(splits)
    for i in range(splits):
        lo, hi = i * n // splits, (i + 1) * n // splits
        p_c, log_p_c = p[lo:hi], log_p[lo:hi]
        log_py = np.log(p_c.mean(axis=0))
        # p * (log p - log p(y)), with 0 * log 0 = 0 for classes a sample gives probability 0
        kl = np.where(p_c > 0, p_c * (log_p_c - log_py), 0.0).sum(axis=1)
        scores[i] = np.exp(kl.mean())
    return float(scores.mean()), float(scores.std())


def _knn_radii(x: torch.Tensor, k: int, batch_size: int) -> torch.Tensor:
    """Distance from each row of ``x`` to its k-th nearest other row."""
    n = x.shape[0]
    radii = torch.empty(n, dtype=x.dtype)
    for lo in range(0, n, batch_size):
        hi = min(lo + batch_size, n)
        dist = torch.cdist(x[lo:hi], x)
        rows = torch.arange(hi - lo)
        dist[rows, rows + lo] = float("inf")  # exclude each sample itself
        radii[lo:hi] = dist.topk(k, dim=1, largest=False).values[:, k - 1]
    return radii


def precision_recall(real: Any, fake: Any, k: int = 3, batch_size: int = 1024) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) of (N, d) real and (M, d) fake features.

    Distances are computed with ``torch.cdist`` in float32, ``batch_size`` rows at a time (memory
    O(batch_size * max(N, M))), on features centred on their joint mean to limit cancellation.
    """
    r64, f64 = _as_2d(real, "real"), _as_2d(fake, "fake")
    if r64.shape[1] != f64.shape[1]:
        raise ValueError(f"real has d={r64.shape[1]}, fake d={f64.shape[1]}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    for name, arr in (("real", r64), ("fake", f64)):
        if arr.shape[0] < k + 1:
            raise ValueError(f"{name} needs at least k+1={k + 1} samples for k-NN radii, got {arr.shape[0]}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    center = np.concatenate([r64, f64]).mean(axis=0)
    r = torch.from_numpy((r64 - center).astype(np.float32))
    f = torch.from_numpy((f64 - center).astype(np.float32))
    r_radii, f_radii = _knn_radii(r, k, batch_size), _knn_radii(f, k, batch_size)
    fake_in_real = torch.zeros(f.shape[0], dtype=torch.bool)
    real_in_fake = torch.zeros(r.shape[0], dtype=torch.bool)
    for lo in range(0, f.shape[0], batch_size):  # one pass over the fake x real distances serves both
        hi = min(lo + batch_size, f.shape[0])
        dist = torch.cdist(f[lo:hi], r)
        fake_in_real[lo:hi] = (dist <= r_radii[None, :]).any(dim=1)
        real_in_fake |= (dist <= f_radii[lo:hi, None]).any(dim=0)
    return float(fake_in_real.double().mean()), float(real_in_fake.double().mean())
