"""The single pictures chapters 9 and 12 fetch with ``keras.utils.get_file`` from
``img-datasets.s3.amazonaws.com`` (``cat.jpg``, ``elephant.jpg``, …); the value is the
file's path, as ``get_file`` returns it.

``real`` takes the file from the cache (``$BOOK_DATA_HOME`` or ``~/.keras/datasets``,
where ``get_file`` puts it). The book pins no checksum for these pictures and none
was recorded offline, so the file is checked by decoding it, not by SHA-256. The
``smoke`` and ``offline`` tiers get a synthetic photograph-sized JPEG (smooth colour
fields and edges), deterministic per seed: no package ships these pictures. An example that
cannot afford a picture of ``TWIN_SHAPE`` asks for a smaller stand-in with
``stand_in_size=(height, width)``, which the book's own pictures ignore; such a stand-in is
drawn from the seed and the picture's name, so that two pictures of one run (a content and a
style picture) differ, where a picture of ``TWIN_SHAPE`` is drawn from the seed alone.
"""

from __future__ import annotations

import os
import tempfile
import zlib
from pathlib import Path

import numpy as np

from reference_impl.api import DatasetUnavailable
from reference_impl.datasets import Loaded, provenance
from reference_impl.datasets.cache import CorruptDataset, cache_dir

ORIGIN = "https://img-datasets.s3.amazonaws.com/"
PICTURES = ("cat.jpg", "elephant.jpg", "coast.jpg", "sf.jpg", "starry_night.jpg")
TWIN_SHAPE = (240, 320)


def real(fname: str, stand_in_size: tuple[int, int] | None = None) -> Loaded:
    _known(fname)
    path = cache_dir() / fname
    if not path.exists():
        raise DatasetUnavailable(f"{fname} is not in the cache; fetch {ORIGIN}{fname} to {path}")
    from PIL import Image

    try:
        with Image.open(path) as img:
            img.load()
    except OSError as error:
        raise CorruptDataset(f"{path}: not a readable image ({error}); fetch {ORIGIN}{fname} again") from error
    return Loaded(str(path), provenance("real", "genuine", f"the book's picture {fname}", fname=fname))


def twin(seed: int = 0, samples: float = 1.0, fname: str = "",
         stand_in_size: tuple[int, int] | None = None) -> Loaded:
    _known(fname)
    shape = tuple(stand_in_size or TWIN_SHAPE)
    size = "" if shape == TWIN_SHAPE else f"{shape[0]}x{shape[1]}-"
    path = cache_dir() / "book_images_twin" / f"seed{seed}-{size}{fname}"
    if not path.exists():
        rng = np.random.RandomState(seed if not size else [seed, zlib.crc32(fname.encode())])
        _write_atomically(path, _picture(rng, shape))
    return Loaded(str(path), provenance("twin", "synthetic", f"synthetic stand-in for {fname}", fname=fname, seed=seed))


def offline(seed: int = 0, fname: str = "", stand_in_size: tuple[int, int] | None = None) -> Loaded:
    return twin(seed=seed, fname=fname, stand_in_size=stand_in_size)


def _picture(rng: np.random.RandomState, shape: tuple[int, int] = TWIN_SHAPE) -> np.ndarray:
    """A few overlapping soft-edged colour blobs on a graded background, with grain."""
    height, width = shape
    rows, cols = np.mgrid[0:height, 0:width].astype(float)
    image = rng.uniform(60, 200, size=3) + rng.uniform(-50, 50, size=3) * (rows / height)[..., None]
    for _ in range(rng.randint(3, 7)):
        centre = rng.uniform(0, 1, size=2) * (height, width)
        radius = rng.uniform(0.1, 0.35) * height
        weight = 1 / (1 + np.exp((np.hypot(rows - centre[0], cols - centre[1]) - radius) / 3))
        image = image * (1 - weight[..., None]) + rng.uniform(0, 255, size=3) * weight[..., None]
    image += rng.normal(0, 6, size=image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def _write_atomically(path: Path, image: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".jpg")
    os.close(fd)
    try:
        Image.fromarray(image).save(tmp, quality=92)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _known(fname: str) -> None:
    if fname not in PICTURES:
        raise KeyError(f"unknown book picture {fname!r}; known: {', '.join(PICTURES)}")
