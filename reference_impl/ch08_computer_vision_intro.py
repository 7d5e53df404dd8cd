"""Chapter 8 — Introduction to deep learning for computer vision.

The cats-vs-dogs examples read the book's ``cats_vs_dogs_small`` folder themselves with
``image_dataset_from_directory``, as the listings do; ``run.data("cats_vs_dogs")`` hands
out the folder and the size to load it at (the book's photos at 180×180; a synthetic
twin or the offline substitute at the smallest size the model accepts, so CPU runs stay
fast). Each model is also built at 180×180 for the architecture facts. The VGG16
examples take their weights from ``run.data("keras_applications", file="vgg16_notop")``: the checked ImageNet
file in the book tier (``weights="imagenet"`` in the listing), ``None`` elsewhere.

Deviations from the book:
* ``ch08_mnist_convnet`` also trains the chapter-2 dense network on the same data with
  the same settings (5 epochs, batch 64), so that the chapter's claim — the convnet beats
  the densely connected model — is checked within one run (the book quotes its ch. 2
  result, trained with batch 128).
* ``ch08_tfdatasets_basics`` uses the R listing's 100×6 tensor, batch 3 and 2×3 reshape
  (*Deep Learning with R*, §8.2.4); the Python listing's 1000×16, batch 32 and 4×4 exercise the same calls.
* The R listing copies ``cat.1–1000`` / ``1001–1500`` / ``1501–2500`` into the small set,
  off by one (a bug in the R listing of §8.2.2); the data layer uses Python's ``0–999`` / ``1000–1499`` /
  ``1500–2499``.
* Checkpoints go to a temporary folder rather than the working directory.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import keras
import numpy as np
from keras import layers
from keras.utils import image_dataset_from_directory

from reference_impl import baselines
from reference_impl.api import LazyModule, Run, benchmark, example

tf = LazyModule("tensorflow")  # §8.2.4 demonstrates tf.data itself (imported on first use)

BOOK_IMAGE_SIZE = (180, 180)
# The smallest square input each model accepts, the size twins are drawn at: the
# convnet's five unpadded 3×3 convolutions and four poolings need 78 pixels; VGG16's
# base needs 32.
CONVNET_STAND_IN = 80
VGG16_STAND_IN = 32


# 8.1 Introduction to convnets ---------------------------------------------------------
@benchmark("mnist_convnet", example="ch08_mnist_convnet", section="8.1", title="MNIST convnet",
           input_shape=(28, 28, 1), batch_size=64, loss="sparse_categorical_crossentropy", classes=10)
def mnist_convnet_model(*, max_pooling: bool = True) -> keras.Model:
    inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Conv2D(filters=32, kernel_size=3, activation="relu")(inputs)
    if max_pooling:
        x = layers.MaxPooling2D(pool_size=2)(x)
    x = layers.Conv2D(filters=64, kernel_size=3, activation="relu")(x)
    if max_pooling:
        x = layers.MaxPooling2D(pool_size=2)(x)
    x = layers.Conv2D(filters=128, kernel_size=3, activation="relu")(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    return keras.Model(inputs=inputs, outputs=outputs)


@example("ch08_mnist_convnet", section="8.1", title="A simple convnet on MNIST", datasets=("mnist",))
def mnist_convnet(run: Run) -> None:
    # Listing 8.1: a small convnet
    model = run.model("model", mnist_convnet_model())
    # Listing 8.5: the same convnet without max pooling, for its size
    run.model("model_no_max_pool", mnist_convnet_model(max_pooling=False))

    # Listing 8.3: training the convnet on MNIST images
    (train_images, train_labels), (test_images, test_labels) = run.data("mnist")
    train_images = train_images.reshape((len(train_images), 28, 28, 1))
    train_images = train_images.astype("float32") / 255
    test_images = test_images.reshape((len(test_images), 28, 28, 1))
    test_images = test_images.astype("float32") / 255
    model.compile(optimizer="rmsprop",
                  loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    run.history("fit", model.fit(train_images, train_labels, epochs=run.epochs(5), batch_size=64))

    # Listing 8.4: evaluating the convnet
    test_loss, test_acc = model.evaluate(test_images, test_labels)
    run.value("test_acc", test_acc)
    run.value("majority_class_acc", baselines.majority_class_accuracy(train_labels, test_labels))  # always the commonest digit

    # The densely connected model of chapter 2, on the same data with the same settings
    dense = keras.Sequential([
        layers.Dense(512, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ])
    dense.compile(optimizer="rmsprop",
                  loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    run.history("dense_fit", dense.fit(train_images.reshape((len(train_images), 28 * 28)), train_labels,
                                       epochs=run.epochs(5), batch_size=64))
    dense_loss, dense_acc = dense.evaluate(test_images.reshape((len(test_images), 28 * 28)), test_labels)
    run.value("dense_test_acc", dense_acc)


# 8.2.4 Data preprocessing --------------------------------------------------------------
def cats_vs_dogs_datasets(base_dir: Path, image_size: tuple[int, int]) -> tuple:
    """Listing 8.9: the train, validation and test datasets of ``cats_vs_dogs_small``."""
    train_dataset = image_dataset_from_directory(base_dir / "train", image_size=image_size, batch_size=32)
    validation_dataset = image_dataset_from_directory(base_dir / "validation", image_size=image_size, batch_size=32)
    test_dataset = image_dataset_from_directory(base_dir / "test", image_size=image_size, batch_size=32)
    return train_dataset, validation_dataset, test_dataset


def directory_labels(dataset: Any) -> np.ndarray:
    """The labels ``image_dataset_from_directory`` gives a dataset's files (the index of their
    class folder), read off its file paths rather than by iterating (and reshuffling) it."""
    return np.array([dataset.class_names.index(Path(path).parent.name) for path in dataset.file_paths])


@example("ch08_tfdatasets_basics", section="8.2.4", title="Understanding TensorFlow Dataset objects",
         datasets=("cats_vs_dogs",), backends=("tensorflow",))
def tfdatasets_basics(run: Run) -> None:
    # Instantiating a Dataset from a NumPy array
    random_numbers = np.random.normal(size=(100, 6))
    dataset = tf.data.Dataset.from_tensor_slices(random_numbers)
    run.value("element_shapes", [element.shape.as_list() for element, _ in zip(dataset, range(3))])
    run.value("first_element_equals_row", bool(np.array_equal(next(iter(dataset)).numpy(), random_numbers[0])))

    # Batching the data
    batched_dataset = dataset.batch(3)
    run.value("batch_shapes", [element.shape.as_list() for element, _ in zip(batched_dataset, range(3))])
    run.value("number_of_batches", len(list(batched_dataset)))

    # Applying a transformation with map()
    reshaped_dataset = dataset.map(lambda x: tf.reshape(x, (2, 3)))
    run.value("reshaped_shapes", [element.shape.as_list() for element, _ in zip(reshaped_dataset, range(3))])

    # Listing 8.10: the shapes of the data and labels yielded by the Dataset
    new_base_dir, image_size = run.data("cats_vs_dogs", stand_in_size=CONVNET_STAND_IN)
    train_dataset, _, _ = cats_vs_dogs_datasets(new_base_dir, image_size)
    run.value("class_names", train_dataset.class_names)
    for data_batch, labels_batch in train_dataset:
        run.value("data_batch_shape", data_batch.shape.as_list())
        run.value("labels_batch_shape", labels_batch.shape.as_list())
        break
    run.value("data_batch_dtype", data_batch.dtype.name)


# 8.2.3 Building the model ---------------------------------------------------------------
@benchmark("cats_vs_dogs_convnet", example="ch08_catsdogs_from_scratch", section="8.2.3",
           title="Cats vs dogs convnet, 180×180×3", input_shape=BOOK_IMAGE_SIZE + (3,), batch_size=32,
           loss="binary_crossentropy", inputs="pixels", image_size=BOOK_IMAGE_SIZE)
def convnet_from_scratch(image_size: tuple[int, int], *, augmentation: bool = False) -> keras.Model:
    """Listing 8.7, and with ``augmentation`` listing 8.16 (augmentation and dropout)."""
    inputs = keras.Input(shape=image_size + (3,))
    x = inputs
    if augmentation:
        x = data_augmentation_stage()(x)
    x = layers.Rescaling(1./255)(x)
    x = layers.Conv2D(filters=32, kernel_size=3, activation="relu")(x)
    x = layers.MaxPooling2D(pool_size=2)(x)
    x = layers.Conv2D(filters=64, kernel_size=3, activation="relu")(x)
    x = layers.MaxPooling2D(pool_size=2)(x)
    x = layers.Conv2D(filters=128, kernel_size=3, activation="relu")(x)
    x = layers.MaxPooling2D(pool_size=2)(x)
    x = layers.Conv2D(filters=256, kernel_size=3, activation="relu")(x)
    x = layers.MaxPooling2D(pool_size=2)(x)
    x = layers.Conv2D(filters=256, kernel_size=3, activation="relu")(x)
    x = layers.Flatten()(x)
    if augmentation:
        x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(loss="binary_crossentropy",
                  optimizer="rmsprop",
                  metrics=["accuracy"])
    return model


def fit_with_checkpoint(run: Run, model: keras.Model, file_name: str, train: Any, validation: Any,
                        epochs: int) -> keras.Model:
    """Train with the book's ``ModelCheckpoint(save_best_only=True, monitor="val_loss")``
    and return the best model, reloaded from its file."""
    with tempfile.TemporaryDirectory() as checkpoints:
        callbacks = [
            keras.callbacks.ModelCheckpoint(
                filepath=str(Path(checkpoints) / file_name),
                save_best_only=True,
                monitor="val_loss")
        ]
        history = model.fit(train, epochs=epochs, validation_data=validation, callbacks=callbacks)
        run.history("fit", history)
        return keras.models.load_model(Path(checkpoints) / file_name)


@example("ch08_catsdogs_from_scratch", section="8.2.2–8.2.4", title="Training a convnet from scratch on a small dataset",
         datasets=("cats_vs_dogs",))
def catsdogs_from_scratch(run: Run) -> None:
    run.model("model", convnet_from_scratch(BOOK_IMAGE_SIZE))

    # 8.2.2 the small set (make_subset in the listing is done once by the data layer)
    new_base_dir, image_size = run.data("cats_vs_dogs", stand_in_size=CONVNET_STAND_IN)
    train_dataset, validation_dataset, test_dataset = cats_vs_dogs_datasets(new_base_dir, image_size)
    run.value("image_size", image_size)

    # Listing 8.11: fitting the model using a Dataset, keeping the best epoch
    model = convnet_from_scratch(image_size)
    test_model = fit_with_checkpoint(run, model, "convnet_from_scratch.keras", train_dataset, validation_dataset,
                                     run.epochs(30))

    # Listing 8.13: evaluating the model on the test set
    test_loss, test_acc = test_model.evaluate(test_dataset)
    run.value("test_acc", test_acc)
    run.value("majority_class_acc", baselines.majority_class_accuracy(
        directory_labels(train_dataset), directory_labels(test_dataset)))  # always the commonest class


# 8.2.5 Using data augmentation ----------------------------------------------------------
def data_augmentation_stage() -> keras.Sequential:
    """Listing 8.14: define a data augmentation stage to add to an image model (§8.3.1 and §9.3.5 reuse it)."""
    return keras.Sequential([
        layers.RandomFlip("horizontal"),
        layers.RandomRotation(0.1),
        layers.RandomZoom(0.2),
    ])


@example("ch08_catsdogs_augmentation", section="8.2.5", title="Using data augmentation",
         datasets=("cats_vs_dogs",))
def catsdogs_augmentation(run: Run) -> None:
    run.model("model", convnet_from_scratch(BOOK_IMAGE_SIZE, augmentation=True))

    new_base_dir, image_size = run.data("cats_vs_dogs", stand_in_size=CONVNET_STAND_IN)
    train_dataset, validation_dataset, test_dataset = cats_vs_dogs_datasets(new_base_dir, image_size)

    # Listing 8.15: displaying some randomly augmented training images (their shapes here)
    data_augmentation = data_augmentation_stage()
    for images, _ in train_dataset.take(1):
        augmented = [data_augmentation(images, training=True) for _ in range(9)]
    run.value("augmented_image_shape", tuple(augmented[0][0].shape))
    run.value("augmentations_differ", bool(not np.allclose(np.asarray(augmented[0][0]), np.asarray(augmented[1][0]))))

    # Listing 8.17: training the regularized convnet
    model = convnet_from_scratch(image_size, augmentation=True)
    test_model = fit_with_checkpoint(run, model, "convnet_from_scratch_with_augmentation.keras", train_dataset,
                                     validation_dataset, run.epochs(100))

    # Listing 8.18: evaluating the model on the test set
    test_loss, test_acc = test_model.evaluate(test_dataset)
    run.value("test_acc", test_acc)
    run.value("majority_class_acc", baselines.majority_class_accuracy(
        directory_labels(train_dataset), directory_labels(test_dataset)))  # always the commonest class


# 8.3 Leveraging a pretrained model ---------------------------------------------------
def vgg16_conv_base(weights: str | None, image_size: tuple[int, int] | None = BOOK_IMAGE_SIZE) -> keras.Model:
    """Listing 8.19: the VGG16 convolutional base (``weights="imagenet"`` in the book)."""
    input_shape = None if image_size is None else image_size + (3,)
    return keras.applications.vgg16.VGG16(weights=weights, include_top=False, input_shape=input_shape)


def dense_head(inputs: keras.KerasTensor) -> keras.KerasTensor:
    """The classifier on top of the base: flatten → dense 256 (no activation) → dropout → sigmoid."""
    x = layers.Flatten()(inputs)
    x = layers.Dense(256)(x)
    x = layers.Dropout(0.5)(x)
    return layers.Dense(1, activation="sigmoid")(x)


def feature_extractor_head(feature_shape: tuple[int, ...]) -> keras.Model:
    """Listing 8.21: a densely connected classifier on the extracted features."""
    inputs = keras.Input(shape=feature_shape)
    model = keras.Model(inputs, dense_head(inputs))
    model.compile(loss="binary_crossentropy",
                  optimizer="rmsprop",
                  metrics=["accuracy"])
    return model


@example("ch08_vgg16_fast_feature_extraction", section="8.3.1",
         title="Fast feature extraction without data augmentation", datasets=("cats_vs_dogs", "keras_applications"),
         needs=("vgg16-imagenet-notop",))
def vgg16_fast_feature_extraction(run: Run) -> None:
    weights = run.data("keras_applications", file="vgg16_notop")
    run.model("conv_base", vgg16_conv_base(None))
    run.model("model", feature_extractor_head((5, 5, 512)))

    new_base_dir, image_size = run.data("cats_vs_dogs", stand_in_size=VGG16_STAND_IN)
    train_dataset, validation_dataset, test_dataset = cats_vs_dogs_datasets(new_base_dir, image_size)
    conv_base = vgg16_conv_base(weights, image_size)

    # Listing 8.20: extracting the VGG16 features and corresponding labels
    def get_features_and_labels(dataset):
        all_features = []
        all_labels = []
        for images, labels in dataset:
            preprocessed_images = keras.applications.vgg16.preprocess_input(images)
            features = conv_base.predict(preprocessed_images)
            all_features.append(features)
            all_labels.append(labels)
        return np.concatenate(all_features), np.concatenate(all_labels)

    train_features, train_labels = get_features_and_labels(train_dataset)
    val_features, val_labels = get_features_and_labels(validation_dataset)
    test_features, test_labels = get_features_and_labels(test_dataset)
    run.value("train_features_shape", train_features.shape)
    run.value("test_features_shape", test_features.shape)

    # Listing 8.21: training the densely connected classifier
    model = feature_extractor_head(train_features.shape[1:])
    with tempfile.TemporaryDirectory() as checkpoints:
        callbacks = [
            keras.callbacks.ModelCheckpoint(
                filepath=str(Path(checkpoints) / "feature_extraction.keras"),
                save_best_only=True,
                monitor="val_loss")
        ]
        history = model.fit(
            train_features, train_labels,
            epochs=run.epochs(20),
            validation_data=(val_features, val_labels),
            callbacks=callbacks)
    run.history("fit", history)
    run.value("majority_class_acc", baselines.majority_class_accuracy(train_labels, val_labels))  # always the commonest class


def augmented_classifier(conv_base: keras.Model, image_size: tuple[int, int]) -> keras.Model:
    """Listing 8.25: a data augmentation stage and a classifier around the convolutional base."""
    data_augmentation = data_augmentation_stage()
    inputs = keras.Input(shape=image_size + (3,))
    x = data_augmentation(inputs)
    x = keras.applications.vgg16.preprocess_input(x)
    x = conv_base(x)
    model = keras.Model(inputs, dense_head(x))
    model.compile(loss="binary_crossentropy",
                  optimizer="rmsprop",
                  metrics=["accuracy"])
    return model


def frozen_vgg16_base(weights: str | None) -> keras.Model:
    """Listing 8.23: instantiating and freezing the VGG16 convolutional base."""
    conv_base = vgg16_conv_base(weights, image_size=None)
    conv_base.trainable = False
    return conv_base


def base_weights(conv_base: keras.Model) -> dict[str, keras.Variable]:
    """The convolutional base's weight tensors by name (``block5_conv1/kernel``)."""
    return {w.path: w for w in conv_base.weights}


def head_weights(model: keras.Model, conv_base: keras.Model) -> dict[str, keras.Variable]:
    """The weight tensors of the classifier on top of ``conv_base``, named by layer type and size
    (``Dense(256)/kernel``): the names Keras gives (``dense_2``, ...) count the layers built before."""
    head = model.layers[model.layers.index(conv_base) + 1:]
    return {f"{type(layer).__name__}({layer.units})/{w.name}": w for layer in head for w in layer.weights}


def weights_snapshot(weights: dict[str, keras.Variable]) -> dict[str, np.ndarray]:
    return {name: np.array(w.numpy()) for name, w in weights.items()}


def changed_weights(weights: dict[str, keras.Variable], before: dict[str, np.ndarray]) -> list[str]:
    """The weight tensors whose values differ from ``before``."""
    return sorted(name for name, value in weights_snapshot(weights).items() if not np.array_equal(value, before[name]))


@example("ch08_vgg16_feature_extraction_augmented", section="8.3.1",
         title="Feature extraction together with data augmentation", datasets=("cats_vs_dogs", "keras_applications"),
         needs=("vgg16-imagenet-notop",))
def vgg16_feature_extraction_augmented(run: Run) -> None:
    weights = run.data("keras_applications", file="vgg16_notop")
    run.model("conv_base", vgg16_conv_base(None))
    run.model("model", augmented_classifier(frozen_vgg16_base(None), BOOK_IMAGE_SIZE))

    new_base_dir, image_size = run.data("cats_vs_dogs", stand_in_size=VGG16_STAND_IN)
    train_dataset, validation_dataset, test_dataset = cats_vs_dogs_datasets(new_base_dir, image_size)

    # Listings 8.23–8.24: instantiating and freezing the VGG16 convolutional base,
    # counting the trainable weights before and after freezing
    conv_base = vgg16_conv_base(weights, image_size=None)
    run.value("trainable_weights_before_freezing", len(conv_base.trainable_weights))
    conv_base.trainable = False
    run.value("trainable_weights_after_freezing", len(conv_base.trainable_weights))

    # Listing 8.25: adding a data augmentation stage and a classifier to the convolutional base
    model = augmented_classifier(conv_base, image_size)
    base_before = weights_snapshot(base_weights(conv_base))
    head_before = weights_snapshot(head_weights(model, conv_base))
    test_model = fit_with_checkpoint(run, model, "feature_extraction_with_data_augmentation.keras", train_dataset,
                                     validation_dataset, run.epochs(50))
    # Training changes the classifier on top and leaves the frozen base as it was
    run.value("changed_base_weights", changed_weights(base_weights(conv_base), base_before))
    run.value("changed_head_weights", changed_weights(head_weights(model, conv_base), head_before))

    # Listing 8.26: evaluating the model on the test set
    test_loss, test_acc = test_model.evaluate(test_dataset)
    run.value("test_acc", test_acc)
    run.value("majority_class_acc", baselines.majority_class_accuracy(
        directory_labels(train_dataset), directory_labels(test_dataset)))  # always the commonest class


# 8.3.2 Fine-tuning a pretrained model ------------------------------------------------
def unfreeze_last_four(conv_base: keras.Model) -> None:
    """Listing 8.27: freezing all layers until the fourth from the last."""
    conv_base.trainable = True
    for layer in conv_base.layers[:-4]:
        layer.trainable = False


@example("ch08_vgg16_finetuning", section="8.3.2", title="Fine-tuning a pretrained model",
         datasets=("cats_vs_dogs", "keras_applications"), needs=("vgg16-imagenet-notop",))
def vgg16_finetuning(run: Run) -> None:
    weights = run.data("keras_applications", file="vgg16_notop")
    book_base = frozen_vgg16_base(None)
    book_model = augmented_classifier(book_base, BOOK_IMAGE_SIZE)
    unfreeze_last_four(book_base)
    run.model("model", book_model)

    new_base_dir, image_size = run.data("cats_vs_dogs", stand_in_size=VGG16_STAND_IN)
    train_dataset, validation_dataset, test_dataset = cats_vs_dogs_datasets(new_base_dir, image_size)

    # Fine-tuning starts from the model trained in §8.3.1 with its base frozen
    conv_base = frozen_vgg16_base(weights)
    model = augmented_classifier(conv_base, image_size)
    model.fit(train_dataset, epochs=run.epochs(50), validation_data=validation_dataset)

    unfreeze_last_four(conv_base)
    run.value("trainable_base_layers", [layer.name for layer in conv_base.layers if layer.trainable])

    # Listing 8.28: fine-tuning the model
    model.compile(loss="binary_crossentropy",
                  optimizer=keras.optimizers.RMSprop(learning_rate=1e-5),
                  metrics=["accuracy"])
    base_before = weights_snapshot(base_weights(conv_base))
    head_before = weights_snapshot(head_weights(model, conv_base))
    test_model = fit_with_checkpoint(run, model, "fine_tuning.keras", train_dataset, validation_dataset,
                                     run.epochs(30))
    # Fine-tuning changes the unfrozen block and the classifier on top, and nothing else in the base
    run.value("changed_base_weights", changed_weights(base_weights(conv_base), base_before))
    run.value("changed_head_weights", changed_weights(head_weights(model, conv_base), head_before))

    test_loss, test_acc = test_model.evaluate(test_dataset)
    run.value("test_acc", test_acc)
    run.value("majority_class_acc", baselines.majority_class_accuracy(
        directory_labels(train_dataset), directory_labels(test_dataset)))  # always the commonest class
