"""The ImageNet weights of VGG16's convolutional base (``include_top=False``), as a
value for ``keras.applications.vgg16.VGG16(weights=...)``.

The book writes ``weights="imagenet"``, which makes Keras download the file into its
own cache (``$KERAS_HOME/models``). Here the weights are provided like a dataset:

* ``real`` — the path of Keras's ``vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5``
  in that cache, checked against the MD5 that Keras itself checks (Keras publishes no
  SHA-256 for it). If it is missing it is fetched with Keras's own ``get_file`` where
  downloads are allowed; with ``BOOK_DATA_OFFLINE=1`` the run is skipped with the
  address to fetch and the place to put it.
* ``offline`` and ``twin`` — ``None``: no package ships ImageNet weights
  (shared/offline-datasets.md), so the same architecture starts from Keras's random
  initialisation. Such runs check the pipeline and the architecture, not transfer.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from reference_impl.api import DatasetUnavailable
from reference_impl.datasets import Loaded, provenance
from reference_impl.datasets.cache import CorruptDataset, downloads_allowed

FILE_NAME = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
URL = f"https://storage.googleapis.com/tensorflow/keras-applications/vgg16/{FILE_NAME}"
MD5 = "6d6bbae143d832006294945121d1f1fc"  # keras.src.applications.vgg16's file_hash


def models_dir() -> Path:
    """Keras's cache of application weights, where ``weights="imagenet"`` looks."""
    return Path(os.environ.get("KERAS_HOME", str(Path.home() / ".keras"))) / "models"


def md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def real() -> Loaded:
    path = models_dir() / FILE_NAME
    if not path.exists():
        if not downloads_allowed():
            raise DatasetUnavailable(
                f"{FILE_NAME} (VGG16 ImageNet weights, no top) is not in Keras's cache (downloads are off, "
                f"BOOK_DATA_OFFLINE=1); fetch {URL} to {path} (MD5 {MD5})"
            )
        import keras

        keras.utils.get_file(FILE_NAME, URL, cache_subdir="models", file_hash=MD5)
    actual = md5_of(path)
    if actual != MD5:
        raise CorruptDataset(f"{path}: MD5 is {actual}, expected {MD5}; delete the file and fetch it again from {URL}")
    return Loaded(str(path), provenance("real", "genuine", "VGG16 ImageNet weights without the top, Keras's file",
                                        file=FILE_NAME, md5=MD5))


def _random_initialisation() -> Loaded:
    return Loaded(None, provenance("none", "synthetic",
                                   "no pretrained weights ship in a package: VGG16 from Keras's random initialisation"))


def offline(seed: int = 0) -> Loaded:
    return _random_initialisation()


def twin(seed: int = 0, samples: float = 1.0) -> Loaded:
    return _random_initialisation()
