"""The files ``keras.applications`` downloads into ``~/.keras/models``: pretrained
ImageNet weights and the ImageNet class index.

``run.data("keras_applications", file="xception_notop")`` stands where the book writes
``weights="imagenet"``: the ``book`` tier hands out the weights file from Keras's own
cache through :func:`cache.fetch`, checked against the MD5 that Keras itself pins (the
only checksum published for these files); where downloads are off, a missing file is a
skip that says what to fetch and where. No package ships ImageNet weights, so the ``smoke`` and ``offline`` tiers get
``None``: the application is built with ``weights=None`` (random initialisation),
which keeps every layer shape and parameter count. ``file="class_index"`` is the
index ``decode_predictions`` reads; without it, a placeholder naming the class
numbers.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from reference_impl.datasets import Loaded, provenance
from reference_impl.datasets.cache import RemoteFile, fetch

_APPLICATIONS = "https://storage.googleapis.com/tensorflow/keras-applications/"
# file → (name in ~/.keras/models, origin, MD5 from keras/src/applications/*.py)
FILES: dict[str, tuple[str, str, str]] = {
    "vgg16_notop": ("vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
                    _APPLICATIONS + "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
                    "6d6bbae143d832006294945121d1f1fc"),
    "xception": ("xception_weights_tf_dim_ordering_tf_kernels.h5",
                 _APPLICATIONS + "xception/xception_weights_tf_dim_ordering_tf_kernels.h5",
                 "0a58e3b7378bc2990ea3b43d5981f1f6"),
    "xception_notop": ("xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
                       _APPLICATIONS + "xception/xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
                       "b0042744bf5b25fce3cb969f33bebb97"),
    "inception_v3_notop": ("inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
                           _APPLICATIONS + "inception_v3/inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
                           "bcbd6486424b2319ff4ef7d526e38f63"),
    "vgg19_notop": ("vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
                    _APPLICATIONS + "vgg19/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
                    "253f8cb515780f3b799900260a226db6"),
    "efficientnetb0": ("efficientnetb0.h5", "https://storage.googleapis.com/keras-applications/efficientnetb0.h5",
                       "902e53a9f72be733fc0bcb005b3ebbac"),
    "class_index": ("imagenet_class_index.json",
                    "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json",
                    "c2c37ea517e94d9795004a39431a14cb"),
}
NUM_CLASSES = 1000


def models_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME", str(Path.home() / ".keras"))) / "models"


def real(file: str) -> Loaded:
    name, url, md5 = _known(file)
    path = fetch(RemoteFile(name, url, md5=md5), folder=models_dir())
    if file == "class_index":
        value: Any = json.loads(path.read_text(encoding="utf-8"))
    else:
        value = str(path)
    return Loaded(value, provenance("real", "genuine", f"keras.applications file {name}", file=file))


def twin(seed: int = 0, samples: float = 1.0, file: str = "") -> Loaded:
    return _without_download(file)


def offline(seed: int = 0, file: str = "") -> Loaded:
    return _without_download(file)


def _without_download(file: str) -> Loaded:
    _known(file)
    if file == "class_index":
        placeholder = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(NUM_CLASSES)}
        return Loaded(placeholder, provenance("none", "synthetic", "placeholder ImageNet class names class_0…class_999",
                                              file=file))
    return Loaded(None, provenance("none", "synthetic", "no pretrained weights: weights=None, random initialisation",
                                   file=file))


def _known(file: str) -> tuple[str, str, str]:
    if file not in FILES:
        raise KeyError(f"unknown keras.applications file {file!r}; known: {', '.join(FILES)}")
    return FILES[file]
