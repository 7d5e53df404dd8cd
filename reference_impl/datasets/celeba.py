"""CelebA faces in the layout of §12.5.3: a folder the book's code reads with
``keras.utils.image_dataset_from_directory(folder, label_mode=None, image_size=(64, 64),
batch_size=32, crop_to_aspect_ratio=True)``.

The value is :class:`Faces`: ``folder`` (``celeba_gan/``, which holds ``img_align_celeba/``, one
image file per face, no labels) and ``image_size``, the size to load and train at: the book's
64×64 on CelebA; a stand-in's own smaller size (a side divisible by 8, which the GAN's three
strided convolutions need), as ``imdb_reviews`` hands out its vocabulary size.

Sources:

* ``real`` — the book's ``img_align_celeba.zip`` (202,599 aligned JPEGs in ``img_align_celeba/``).
  The book fetches it from Google Drive with ``gdown``, which needs a browser-like session, so it
  is never downloaded here: put the zip in ``<cache>/``. It is extracted once into
  ``<cache>/celeba_gan`` under a temporary name that takes its final name only when all 202,599
  images are there, with a manifest of its image count; a folder that holds another count since (a
  half-extracted or half-deleted one), or has no manifest, is extracted again, never trained on, and
  replaced only once the new one is whole. CelebA publishes no checksum for the zip: the count and
  the zip's own CRC-32s are what is checked.
* ``offline`` — a substitute: the 100 genuine LFW face crops (25×25 grey) that scikit-image ships
  (``skimage.data.lfw_subset()``, whose first 100 images are faces and last 100 are not; only the
  faces are used), written as RGB PNGs (``pip install '.[celeba-offline]'``).
* ``twin`` — synthetic faces (see :func:`draw_faces`), written as PNGs.

Twins and substitutes are written the same way, cached by their parameters, so reruns (and parallel
workers) reuse them.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

from reference_impl.api import DatasetUnavailable
from reference_impl.datasets import Loaded, provenance
from reference_impl.datasets.cache import CorruptDataset, build_tree_once, cache_dir, files_per_folder

ARCHIVE = "img_align_celeba.zip"
EXTRACTED = "celeba_gan"  # the book's folder, holding img_align_celeba/
IMAGES = "img_align_celeba"
EXPECTED_IMAGES = 202_599
BOOK_IMAGE_SIZE = (64, 64)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


class Faces(NamedTuple):
    folder: Path  # holds img_align_celeba/ (or a stand-in's images/): image files, no labels
    image_size: tuple[int, int]  # what to pass to image_dataset_from_directory


def count_images(folder: Path) -> int:
    """Image files directly in ``folder`` (0 when it does not exist)."""
    if not folder.is_dir():
        return 0
    return sum(1 for name in os.listdir(folder) if name.lower().endswith(IMAGE_SUFFIXES))


def _image_counts(root: Path) -> dict[str, int]:
    """Image files per folder under ``root``: what a tree's manifest records, and rechecks on each load."""
    return files_per_folder(root, IMAGE_SUFFIXES)


# -- real: the book's zip ---------------------------------------------------------------
def real(**_: object) -> Loaded:
    """The book's CelebA images, from ``img_align_celeba.zip`` in the cache, extracted once."""
    final = cache_dir() / EXTRACTED
    archive = cache_dir() / ARCHIVE

    def write(out: Path) -> dict:
        if not archive.exists():
            raise DatasetUnavailable(
                f"{ARCHIVE} is not in the cache: the book fetches it from Google Drive with gdown, which is never "
                f"done here; put {ARCHIVE} (202,599 JPEGs in {IMAGES}/) in {cache_dir()}")
        _extract(archive, out)
        found = count_images(out / IMAGES)
        if found != EXPECTED_IMAGES:
            raise CorruptDataset(f"{archive}: {IMAGES}/ holds {found} images, expected {EXPECTED_IMAGES}; "
                                 f"delete it and fetch it again")
        return {"source": ARCHIVE}

    build_tree_once(final, write, _image_counts, adopt=lambda counts: counts.get(IMAGES) == EXPECTED_IMAGES)
    return Loaded(Faces(final, BOOK_IMAGE_SIZE),
                  provenance("real", "genuine", "CelebA aligned faces, the book's img_align_celeba.zip",
                             images=EXPECTED_IMAGES, image_size=list(BOOK_IMAGE_SIZE)))


def _extract(archive: Path, out: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as opened:
            for info in opened.infolist():  # the archive's own layout, member by member (CRC-32 checked)
                if info.is_dir() or not info.filename.startswith(f"{IMAGES}/"):
                    continue
                target = out / IMAGES / Path(info.filename).name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(opened.read(info))
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise CorruptDataset(f"{archive}: not a readable zip ({error}); delete it and fetch it again") from error


# -- shared by the stand-ins -----------------------------------------------------------------
def twin_home() -> Path:
    """Where twins and offline substitutes are cached: regenerable, so a temp folder."""
    return Path(tempfile.gettempdir()) / "dlbook-conformance"


def _write_images(out: Path, images: np.ndarray) -> None:
    from PIL import Image

    (out / "images").mkdir(parents=True)
    for i, image in enumerate(images):
        Image.fromarray(image).save(out / "images" / f"{i:06d}.png")


def _stand_in(final: Path, images: Callable[[], np.ndarray]) -> None:
    def write(out: Path) -> dict:
        _write_images(out, images())
        return {}

    build_tree_once(final, write, _image_counts)


# -- twin: drawn faces ----------------------------------------------------------------------------
TWIN_FORMAT = 1  # bump when the drawing changes, so old cached twins are not reused
TWIN_SIDE = 8  # the smallest side the GAN takes: a smoke run affords one step of the book's networks
TWIN_MIN_IMAGES = 32  # one batch, however small ``samples``
SUPERSAMPLING = 4  # drawn at 4× and averaged down, for smooth edges


def twin(seed: int = 0, samples: float = 1.0) -> Loaded:
    """``samples`` is the fraction of CelebA's 202,599 faces to draw (at least 32), at
    ``TWIN_SIDE``×``TWIN_SIDE``."""
    count = max(TWIN_MIN_IMAGES, round(EXPECTED_IMAGES * samples))
    final = twin_home() / f"celeba_twin-v{TWIN_FORMAT}-seed{seed}-n{count}-{TWIN_SIDE}px"
    _stand_in(final, lambda: draw_faces(count, TWIN_SIDE, np.random.RandomState(seed)))
    return Loaded(Faces(final, (TWIN_SIDE, TWIN_SIDE)),
                  provenance("twin", "synthetic", "CelebA twin: drawn faces (an oval of skin, two eyes, a mouth) "
                             "on plain backgrounds", images=count, seed=seed, image_size=[TWIN_SIDE, TWIN_SIDE]))


def draw_faces(n: int, side: int, rng: np.random.RandomState) -> np.ndarray:
    """``n`` faces (n, side, side, 3) uint8, centred as CelebA's aligned crops are: an oval of a random
    skin tone on a background of another colour, two dark eyes and a dark mouth, with a little random
    shift, size and tilt."""
    big = side * SUPERSAMPLING
    yy, xx = (np.mgrid[0:big, 0:big].astype("float32") + 0.5) / big  # [0, 1] coordinates
    images = np.empty((n, side, side, 3), dtype=np.uint8)
    for i in range(n):
        background = rng.uniform(20, 235, size=3)
        skin = np.array([rng.uniform(120, 240), 0, 0])
        skin[1] = skin[0] * rng.uniform(0.7, 0.85)
        skin[2] = skin[0] * rng.uniform(0.55, 0.75)
        cy, cx = 0.5 + rng.uniform(-0.05, 0.05, size=2)
        ry, rx = rng.uniform(0.32, 0.4), rng.uniform(0.24, 0.3)
        tilt = rng.uniform(-0.2, 0.2)
        u = ((xx - cx) * np.cos(tilt) + (yy - cy) * np.sin(tilt)) / rx  # across the face, -1 to 1
        v = (-(xx - cx) * np.sin(tilt) + (yy - cy) * np.cos(tilt)) / ry  # down the face, -1 to 1
        canvas = np.broadcast_to(background, (big, big, 3)).copy()
        canvas[u ** 2 + v ** 2 <= 1] = skin
        eye = rng.uniform(0.12, 0.18)
        for side_sign in (-1, 1):
            canvas[((u - side_sign * 0.4) / eye) ** 2 + ((v + 0.2) / (eye * 0.8)) ** 2 <= 1] = rng.uniform(10, 50)
        mouth_width, mouth_height = rng.uniform(0.3, 0.45), rng.uniform(0.06, 0.12)
        canvas[(u / mouth_width) ** 2 + ((v - 0.5) / mouth_height) ** 2 <= 1] = skin * rng.uniform(0.35, 0.55)
        small = canvas.reshape(side, SUPERSAMPLING, side, SUPERSAMPLING, 3).mean(axis=(1, 3))
        images[i] = np.clip(np.rint(small + rng.normal(0, 3, size=small.shape)), 0, 255).astype(np.uint8)
    return images


# -- offline: genuine LFW faces from scikit-image --------------------------------------------------
OFFLINE_PACKAGE = "skimage"
OFFLINE_FACES = 100  # lfw_subset(): the first 100 of its 200 images are faces, the rest are not
OFFLINE_SIDE = 16  # the files keep LFW's 25×25 and load at 16, a side divisible by 8 that a CPU trains in seconds


def offline(seed: int = 0) -> Loaded:
    """The 100 genuine LFW face crops of ``skimage.data.lfw_subset()`` (25×25 grey, the same for every
    seed) as RGB PNGs, loaded at 16×16. Real faces, not CelebA's: labelled ``substitute``."""
    if importlib.util.find_spec(OFFLINE_PACKAGE) is None:
        raise DatasetUnavailable("the offline CelebA substitute needs the package 'scikit-image' "
                                 "(pip install '.[celeba-offline]')")

    def faces() -> np.ndarray:
        from skimage import data

        grey = np.asarray(data.lfw_subset()[:OFFLINE_FACES], dtype="float64")
        if grey.shape[0] != OFFLINE_FACES or grey.ndim != 3:
            raise CorruptDataset(f"skimage.data.lfw_subset(): expected at least {OFFLINE_FACES} grey images, "
                                 f"got shape {grey.shape}")
        rgb = np.rint(np.clip(grey, 0, 1) * 255).astype(np.uint8)
        return np.repeat(rgb[..., None], 3, axis=-1)

    final = twin_home() / f"celeba_offline-lfw{OFFLINE_FACES}"
    _stand_in(final, faces)
    return Loaded(Faces(final, (OFFLINE_SIDE, OFFLINE_SIDE)),
                  provenance("offline", "substitute", "the 100 LFW face crops (25×25 grey) scikit-image ships, "
                             "as RGB PNGs", images=OFFLINE_FACES, image_size=[OFFLINE_SIDE, OFFLINE_SIDE]))
