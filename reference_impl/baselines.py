"""What a predictor that ignores the input scores on a held-out split.

The book measures models against such baselines itself (the random classifier of §4.2.5, the
common-sense forecast of §10.2.1); an example records them with ``run.value`` beside its own
metric, computed on the same split, so that "the model learned something" is a check against a
number rather than a feeling. Each takes the training targets (what the trivial predictor may
learn from) and the held-out targets (what it is scored on).
"""

from __future__ import annotations

import numpy as np


def majority_class_accuracy(train_labels: np.ndarray, test_labels: np.ndarray) -> float:
    """Accuracy of always answering the training set's commonest class. Labels are integer
    classes, or one-hot rows (their argmax is taken)."""
    train, test = _classes(train_labels), _classes(test_labels)
    values, counts = np.unique(train, return_counts=True)
    return float(np.mean(test == values[np.argmax(counts)]))


def pixel_prior_accuracy(train_masks: np.ndarray, test_masks: np.ndarray) -> float:
    """Pixel accuracy of labelling every pixel with its commonest class at that position in the
    training masks (the position prior: a model that ignores the image)."""
    train, test = np.asarray(train_masks), np.asarray(test_masks)
    train, test = train.reshape(train.shape[0], -1), test.reshape(test.shape[0], -1)
    classes = np.unique(train)
    counts = np.stack([(train == c).sum(axis=0) for c in classes])
    prior = classes[np.argmax(counts, axis=0)]
    return float(np.mean(test == prior))


def mean_target_mae(train_targets: np.ndarray, test_targets: np.ndarray) -> float:
    """Mean absolute error of always predicting the training targets' mean."""
    return float(np.mean(np.abs(np.asarray(test_targets, dtype="float64") - np.mean(train_targets))))


def class_prior_cross_entropy(train_labels: np.ndarray, test_labels: np.ndarray) -> float:
    """Mean cross-entropy (natural log) of always predicting the training set's class frequencies:
    the loss of a classifier that ignores the input. A model's test loss below it has learned
    something from the input even while its arg-max accuracy is still near the commonest class's."""
    train, test = _classes(train_labels), _classes(test_labels)
    classes, counts = np.unique(train, return_counts=True)
    frequency = dict(zip(classes.tolist(), (counts / counts.sum()).tolist()))
    eps = 1e-7  # Keras's clipping epsilon: a class the training set never shows costs -log(1e-7)
    return float(np.mean([-np.log(max(frequency.get(label, 0.0), eps)) for label in test.tolist()]))


def _classes(labels: np.ndarray) -> np.ndarray:
    labels = np.asarray(labels)
    return labels.argmax(axis=-1) if labels.ndim > 1 and labels.shape[-1] > 1 else labels.reshape(-1)


def reconstruction_bce(reconstructions: np.ndarray, images: np.ndarray) -> float:
    """Mean over images of the binary cross-entropy summed over each image's pixels (the VAE's
    reconstruction loss of §12.4.3), predictions clipped to [1e-7, 1 - 1e-7] as Keras clips them."""
    x = np.asarray(images, dtype="float64").reshape(len(images), -1)
    p = np.clip(np.asarray(reconstructions, dtype="float64").reshape(len(x), -1), 1e-7, 1 - 1e-7)
    return float(np.mean(np.sum(-(x * np.log(p) + (1 - x) * np.log(1 - p)), axis=1)))


def mean_image_reconstruction_bce(train_images: np.ndarray, test_images: np.ndarray) -> float:
    """Reconstruction loss (``reconstruction_bce``) of answering every held-out image with the training
    images' mean image: the constant image that minimises the summed per-pixel cross-entropy, the
    best an autoencoder that ignores its input can do."""
    test = np.asarray(test_images, dtype="float64")
    mean = np.asarray(train_images, dtype="float64").mean(axis=0)
    return reconstruction_bce(np.broadcast_to(mean, test.shape), test)
