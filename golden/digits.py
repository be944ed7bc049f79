"""The default data set: scikit-learn's bundled `load_digits` (real handwriting, no download).

Contract:
- 1797 images of 8x8 pixels, each pixel an integer 0..16, flattened row-major to 64 features;
  labels 0..9.
- Inputs are scaled to [0, 1] as pixels / 16 (float64, exact: k/16 is a dyadic fraction).
- Fixed split: `train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)`
  -> 1437 training and 360 test samples. The split never changes, so every accuracy figure in
  the project refers to the same 360 test images.
The arrays are built once per process and returned read-only.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .errors import QuantpeError

__all__ = ["DigitsSplit", "load_digits_split", "to_images", "N_FEATURES", "N_CLASSES", "PIXEL_MAX",
           "TEST_SIZE", "SPLIT_SEED"]

N_FEATURES = 64
N_CLASSES = 10
PIXEL_MAX = 16
TEST_SIZE = 0.2
SPLIT_SEED = 0


@dataclass(frozen=True)
class DigitsSplit:
    """Train/test arrays: x float64 (n, 64) in [0, 1], y int64 (n,) in 0..9."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


@functools.lru_cache(maxsize=1)
def load_digits_split() -> DigitsSplit:
    """The project's fixed split of `load_digits` (see the module docstring)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    ds = load_digits()
    x = np.asarray(ds.data, dtype=np.float64) / PIXEL_MAX
    y = np.asarray(ds.target, dtype=np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=TEST_SIZE,
                                              random_state=SPLIT_SEED, stratify=y)
    arrays = [np.ascontiguousarray(a) for a in (x_tr, y_tr, x_te, y_te)]
    for a in arrays:
        a.setflags(write=False)
    return DigitsSplit(*arrays)


def to_images(x) -> np.ndarray:
    """Digits features (N, 64) -> (N, 1, 8, 8) images (row-major pixels)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != N_FEATURES:
        raise QuantpeError(f"digits features must have shape (n, 64), got {x.shape}")
    return x.reshape(len(x), 1, 8, 8)
