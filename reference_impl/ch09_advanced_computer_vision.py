"""Chapter 9 — Advanced deep learning for computer vision.

Pretrained ImageNet weights come from ``run.data("keras_applications", file=...)``:
the book's ``weights="imagenet"`` file from Keras's cache in the ``book`` tier, and
``None`` (random initialisation, same architecture) where no weights can be had.
The pictures the book fetches with ``get_file`` come from ``run.data("book_images")``.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any

import keras
import numpy as np
from keras import layers

from reference_impl import baselines
from reference_impl.api import LazyModule, Run, benchmark, example
from reference_impl.ch08_computer_vision_intro import convnet_from_scratch, data_augmentation_stage, directory_labels

tf = LazyModule("tensorflow")  # §9.4.2–9.4.3 use TensorFlow's GradientTape (imported on first use)


# 9.2 An image segmentation example ------------------------------------------------
# Keras 3.15's PyTorch sparse cross-entropy moves the class axis of a per-pixel softmax to axis 1
# without making it contiguous, and torch's 2-D NLL loss then fails in the backward pass.
KERAS_TORCH_PER_PIXEL_CROSSENTROPY = ("Keras 3.15's PyTorch sparse categorical cross-entropy on per-pixel outputs fails in "
                                      "the backward pass: 'grad_input must be contiguous'")


def get_model(img_size, num_classes):
    inputs = keras.Input(shape=img_size + (3,))
    x = layers.Rescaling(1./255)(inputs)

    x = layers.Conv2D(64, 3, strides=2, activation="relu", padding="same")(x)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
    x = layers.Conv2D(128, 3, strides=2, activation="relu", padding="same")(x)
    x = layers.Conv2D(128, 3, activation="relu", padding="same")(x)
    x = layers.Conv2D(256, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.Conv2D(256, 3, activation="relu", padding="same")(x)

    x = layers.Conv2DTranspose(256, 3, activation="relu", padding="same")(x)
    x = layers.Conv2DTranspose(256, 3, activation="relu", padding="same", strides=2)(x)
    x = layers.Conv2DTranspose(128, 3, activation="relu", padding="same")(x)
    x = layers.Conv2DTranspose(128, 3, activation="relu", padding="same", strides=2)(x)
    x = layers.Conv2DTranspose(64, 3, activation="relu", padding="same")(x)
    x = layers.Conv2DTranspose(64, 3, activation="relu", padding="same", strides=2)(x)

    outputs = layers.Conv2D(num_classes, 3, activation="softmax", padding="same")(x)

    model = keras.Model(inputs, outputs)
    return model


@example("ch09_oxford_pets_segmentation", section="9.2", title="Segmenting Oxford-IIIT Pets",
         datasets=("oxford_pets",), needs=("oxford-iiit-pets",), backends=("tensorflow", "jax"),
         backends_reason=KERAS_TORCH_PER_PIXEL_CROSSENTROPY)
def oxford_pets_segmentation(run: Run) -> None:
    """The data layer runs the book's loading code (sorted paths, ``random.Random(1337)``
    shuffle, ``load_img`` at 200×200, targets minus 1, 1,000 validation images). The
    network trains at the size the images arrive in (the smoke twin's are 32×32, the
    offline substitute's 48×48); the 200×200 model is built for the architecture check.
    The validation pixel accuracy is an addition: the book shows one predicted mask."""
    img_size = (200, 200)
    (train_input_imgs, train_targets), (val_input_imgs, val_targets) = run.data("oxford_pets", img_size=img_size)
    run.value("train_input_imgs_shape", train_input_imgs.shape)
    run.value("val_input_imgs_shape", val_input_imgs.shape)
    run.value("train_input_imgs_dtype", str(train_input_imgs.dtype))
    run.value("train_targets_dtype", str(train_targets.dtype))
    run.value("target_classes", np.unique(train_targets))

    run.model("model", get_model(img_size=img_size, num_classes=3))
    model = get_model(img_size=train_input_imgs.shape[1:3], num_classes=3)

    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    with tempfile.TemporaryDirectory() as checkpoints:
        checkpoint = os.path.join(checkpoints, "oxford_segmentation.keras")
        callbacks = [keras.callbacks.ModelCheckpoint(checkpoint, save_best_only=True)]
        history = model.fit(train_input_imgs, train_targets,
                            epochs=run.epochs(50),
                            callbacks=callbacks,
                            batch_size=64,
                            validation_data=(val_input_imgs, val_targets))
        run.history("fit", history)
        model = keras.models.load_model(checkpoint)

    i = 4
    test_image = val_input_imgs[i]
    mask = model.predict(np.expand_dims(test_image, 0))[0]
    run.value("mask_shape", mask.shape)
    run.value("mask_pixel_prob_sums", [float(mask.sum(axis=-1).min()), float(mask.sum(axis=-1).max())])
    predicted_classes = np.argmax(mask, axis=-1)
    run.value("mask_classes", np.unique(predicted_classes))

    # Beyond the book's one picture: how many validation pixels the best model gets
    # right, against always answering the commonest class, and against answering each
    # pixel's commonest training class (where pets usually are, without looking).
    val_masks = model.predict(val_input_imgs, batch_size=64)
    truth = val_targets[..., 0]
    run.value("val_pixel_accuracy", float(np.mean(np.argmax(val_masks, axis=-1) == truth)))
    run.value("majority_class_fraction", float(np.bincount(truth.ravel(), minlength=3).max() / truth.size))
    position_prior = np.argmax([np.mean(train_targets[..., 0] == c, axis=0) for c in range(3)], axis=0)
    run.value("position_prior_pixel_accuracy", float(np.mean(position_prior == truth)))


# 9.3.2 Residual connections ------------------------------------------------------
def residual_block(x, filters, pooling=False):
    residual = x
    x = layers.Conv2D(filters, 3, activation="relu", padding="same")(x)
    x = layers.Conv2D(filters, 3, activation="relu", padding="same")(x)
    if pooling:
        x = layers.MaxPooling2D(2, padding="same")(x)
        residual = layers.Conv2D(filters, 1, strides=2)(residual)
    elif filters != residual.shape[-1]:
        residual = layers.Conv2D(filters, 1)(residual)
    x = layers.add([x, residual])
    return x


@example("ch09_residual_blocks", section="9.3.2", title="Residual connections")
def residual_blocks(run: Run) -> None:
    # The case where the target block changes the number of output filters
    inputs = keras.Input(shape=(32, 32, 3))
    x = layers.Conv2D(32, 3, activation="relu")(inputs)
    residual = x
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
    residual = layers.Conv2D(64, 1)(residual)
    x = layers.add([x, residual])
    run.model("projection", keras.Model(inputs, x))

    # The case where the target block includes a max pooling layer
    inputs = keras.Input(shape=(32, 32, 3))
    x = layers.Conv2D(32, 3, activation="relu")(inputs)
    residual = x
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
    x = layers.MaxPooling2D(2, padding="same")(x)
    residual = layers.Conv2D(64, 1, strides=2)(residual)
    x = layers.add([x, residual])
    run.model("strided_projection", keras.Model(inputs, x))

    # A simple convnet structured into a series of residual blocks
    inputs = keras.Input(shape=(32, 32, 3))
    x = layers.Rescaling(1./255)(inputs)
    x = residual_block(x, filters=32, pooling=True)
    x = residual_block(x, filters=64, pooling=True)
    x = residual_block(x, filters=128, pooling=False)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    run.model("model", model)


# 9.3.3 Batch normalization: freezing it for fine-tuning -------------------------------
@example("ch09_batchnorm_freeze_efficientnet", section="9.3.3",
         title="Batch normalization layers left frozen when fine-tuning EfficientNetB0",
         datasets=("keras_applications",), needs=("efficientnetb0-imagenet",))
def batchnorm_freeze_efficientnet(run: Run) -> None:
    """The R book's §9.3.3 code; the Python edition gives the same advice (leave
    BatchNormalization layers frozen when fine-tuning) in a sidebar without a listing."""
    weights = run.data("keras_applications", file="efficientnetb0")  # weights="imagenet" in the book
    efficientnet = keras.applications.efficientnet.EfficientNetB0(weights=weights)
    batch_norm_layers = [layer for layer in efficientnet.layers if isinstance(layer, layers.BatchNormalization)]
    run.value("batchnorm_layers", len(batch_norm_layers))
    run.value("trainable_weight_tensors_before", len(efficientnet.trainable_weights))
    run.model("before", efficientnet)

    for layer in efficientnet.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.trainable = False

    run.value("trainable_batchnorm_layers_after", sum(layer.trainable for layer in batch_norm_layers))
    run.value("frozen_layers_other_than_batchnorm", sum(
        not layer.trainable for layer in efficientnet.layers
        if layer.weights and not isinstance(layer, layers.BatchNormalization)))
    run.value("trainable_weight_tensors_after", len(efficientnet.trainable_weights))
    run.model("after", efficientnet)


# 9.3.5 Putting it together: a mini Xception-like model ------------------------------
@benchmark("mini_xception", example="ch09_mini_xception_catsdogs", section="9.3.5", title="Mini-Xception, 180×180×3",
           input_shape=(180, 180, 3), batch_size=32, loss="binary_crossentropy", inputs="pixels",
           image_size=(180, 180), augmentation=False)
def mini_xception(image_size: tuple[int, int], *, augmentation: bool = True) -> keras.Model:
    """The benchmark times it without the augmentation stage: input preprocessing, not the
    architecture (it holds no weights, so the parameter count is the book's either way)."""
    inputs = keras.Input(shape=image_size + (3,))
    x = inputs
    if augmentation:
        x = data_augmentation_stage()(x)
    x = layers.Rescaling(1./255)(x)
    x = layers.Conv2D(filters=32, kernel_size=5, use_bias=False)(x)

    for size in [32, 64, 128, 256, 512]:
        residual = x

        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(size, 3, padding="same", use_bias=False)(x)

        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(size, 3, padding="same", use_bias=False)(x)

        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)

        residual = layers.Conv2D(size, 1, strides=2, padding="same", use_bias=False)(residual)
        x = layers.add([x, residual])

    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    return keras.Model(inputs=inputs, outputs=outputs)


# The size the twin and the offline substitute are drawn at for the mini Xception, which takes
# any size: small, so that a CPU run affords its steps (its parameter count does not depend on it).
MINI_XCEPTION_STAND_IN = 32


def accuracy_with_batch_statistics(model: keras.Model, dataset: Any) -> float:
    """Binary accuracy of ``model`` called in training mode on each batch of ``dataset``, so that
    batch normalisation uses the batch's own statistics (augmentation and dropout are on too).
    In inference mode it uses its moving averages, which (momentum 0.99) still hold their initial
    values after a few dozen steps, so a short run's ``evaluate`` answers one class whatever the
    network has learned; this measure shows what it has learned on held-out images."""
    correct = total = 0
    for images, labels in dataset:
        predictions = keras.ops.convert_to_numpy(model(np.asarray(images), training=True))[:, 0]
        correct += int(np.sum((predictions > 0.5) == (np.asarray(labels) == 1)))
        total += len(labels)
    return correct / total


@example("ch09_mini_xception_catsdogs", section="9.3.5", title="A mini Xception-like model on cats vs. dogs",
         datasets=("cats_vs_dogs",), needs=("kaggle-dogs-vs-cats",))
def mini_xception_catsdogs(run: Run) -> None:
    """The book quotes a test accuracy (90.8%) but its listing has no ``evaluate``;
    we evaluate on the test split to check it. The twin and the offline substitute
    are drawn at 32×32 (the model takes any size; the book's photos load at
    180×180); the 180×180 model is built for the architecture check. The test
    accuracy with each batch's own statistics is an addition for short runs: see
    ``accuracy_with_batch_statistics``. The model evaluated is the last epoch's: the
    §9.3.5 listing fits without §8.2.5's best-checkpoint callback."""
    small_set = run.data("cats_vs_dogs", stand_in_size=MINI_XCEPTION_STAND_IN)
    train_dataset = keras.utils.image_dataset_from_directory(
        small_set.base_dir / "train", image_size=small_set.image_size, batch_size=32)
    validation_dataset = keras.utils.image_dataset_from_directory(
        small_set.base_dir / "validation", image_size=small_set.image_size, batch_size=32)
    test_dataset = keras.utils.image_dataset_from_directory(
        small_set.base_dir / "test", image_size=small_set.image_size, batch_size=32)

    run.model("model", mini_xception((180, 180)))
    model = mini_xception(tuple(small_set.image_size))
    model.compile(loss="binary_crossentropy", optimizer="rmsprop", metrics=["accuracy"])
    history = model.fit(train_dataset, epochs=run.epochs(100), validation_data=validation_dataset)
    run.history("fit", history)
    test_loss, test_acc = model.evaluate(test_dataset)
    run.value("test_acc", test_acc)
    run.value("test_acc_batch_statistics", accuracy_with_batch_statistics(model, test_dataset))
    run.value("majority_class_acc", baselines.majority_class_accuracy(
        directory_labels(train_dataset), directory_labels(test_dataset)))  # always the commonest class


# 9.4.1 Visualizing intermediate activations ----------------------------------------------
@example("ch09_visualize_intermediate_activations", section="9.4.1",
         title="Visualizing intermediate activations of the chapter 8 convnet",
         datasets=("cats_vs_dogs", "book_images"), needs=("kaggle-dogs-vs-cats",))
def visualize_intermediate_activations(run: Run) -> None:
    """The book loads ``convnet_from_scratch_with_augmentation.keras``, saved by §8.2.5.
    So that no example depends on another's file, this one trains that convnet itself
    (the same listing, ``run.epochs(100)``) before looking inside it. It keeps the last
    epoch's model, not §8.2.5's best checkpoint: what is checked here is the shape of
    each activation, which the weights do not change."""
    small_set = run.data("cats_vs_dogs", stand_in_size=180)
    train_dataset = keras.utils.image_dataset_from_directory(
        small_set.base_dir / "train", image_size=small_set.image_size, batch_size=32)
    validation_dataset = keras.utils.image_dataset_from_directory(
        small_set.base_dir / "validation", image_size=small_set.image_size, batch_size=32)

    # §8.2.5: the convnet from scratch with data augmentation and dropout
    model = convnet_from_scratch((180, 180), augmentation=True)
    run.history("fit", model.fit(train_dataset, epochs=run.epochs(100), validation_data=validation_dataset))
    run.model("model", model)
    run.value("majority_class_acc", baselines.majority_class_accuracy(
        directory_labels(train_dataset), directory_labels(validation_dataset)))  # always the commonest class

    # Preprocessing a single image
    img_path = run.data("book_images", fname="cat.jpg")

    def get_img_array(img_path, target_size):
        img = keras.utils.load_img(img_path, target_size=target_size)
        array = keras.utils.img_to_array(img)
        array = np.expand_dims(array, axis=0)
        return array

    img_tensor = get_img_array(img_path, target_size=(180, 180))

    # Instantiating a model that returns layer activations
    layer_outputs = []
    layer_names = []
    for layer in model.layers:
        if isinstance(layer, (layers.Conv2D, layers.MaxPooling2D)):
            layer_outputs.append(layer.output)
            layer_names.append(layer.name)
    activation_model = keras.Model(inputs=model.input, outputs=layer_outputs)

    activations = activation_model.predict(img_tensor)
    first_layer_activation = activations[0]
    run.value("layer_names", layer_names)
    run.value("activation_shapes", [a.shape for a in activations])
    run.value("first_layer_activation_shape", first_layer_activation.shape)
    run.value("fifth_channel_shape", first_layer_activation[0, :, :, 5].shape)

    # Visualizing every channel in every intermediate activation
    images_per_row = 16
    grid_shapes = []
    for layer_name, layer_activation in zip(layer_names, activations):
        n_features = layer_activation.shape[-1]
        size = layer_activation.shape[1]
        n_cols = n_features // images_per_row
        display_grid = np.zeros(((size + 1) * n_cols - 1, images_per_row * (size + 1) - 1))
        for col in range(n_cols):
            for row in range(images_per_row):
                channel_index = col * images_per_row + row
                channel_image = layer_activation[0, :, :, channel_index].copy()
                if channel_image.sum() != 0:
                    channel_image -= channel_image.mean()
                    channel_image /= channel_image.std()
                    channel_image *= 64
                    channel_image += 128
                channel_image = np.clip(channel_image, 0, 255).astype("uint8")
                display_grid[
                    col * (size + 1): (col + 1) * size + col,
                    row * (size + 1): (row + 1) * size + row] = channel_image
        grid_shapes.append(display_grid.shape)
    run.value("grid_shapes", grid_shapes)


# 9.4.2 Visualizing convnet filters -----------------------------------------------------
@example("ch09_visualize_filters_xception", section="9.4.2", title="Visualizing convnet filters by gradient ascent",
         datasets=("keras_applications", "book_images"), backends=("tensorflow",),
         needs=("xception-imagenet-notop",))
def visualize_filters_xception(run: Run) -> None:
    """The ascent runs ``run.steps(30)`` iterations over ``run.steps(64)`` filters;
    the loss of the first filter is recorded at every iteration."""
    model = keras.applications.xception.Xception(
        weights=run.data("keras_applications", file="xception_notop"),  # weights="imagenet" in the book
        include_top=False)
    run.value("conv_layer_names", [layer.name for layer in model.layers
                                   if isinstance(layer, (keras.layers.Conv2D, keras.layers.SeparableConv2D))])

    layer_name = "block3_sepconv1"
    layer = model.get_layer(name=layer_name)
    feature_extractor = keras.Model(inputs=model.input, outputs=layer.output)

    # Using the feature extractor on the cat picture of §9.4.1
    img_path = run.data("book_images", fname="cat.jpg")
    img_tensor = keras.utils.img_to_array(keras.utils.load_img(img_path, target_size=(180, 180)))
    img_tensor = np.expand_dims(img_tensor, axis=0)
    activation = feature_extractor(keras.applications.xception.preprocess_input(img_tensor))
    run.value("cat_activation_shape", tuple(activation.shape))

    def compute_loss(image, filter_index):
        activation = feature_extractor(image)
        filter_activation = activation[:, 2:-2, 2:-2, filter_index]
        return tf.reduce_mean(filter_activation)

    @tf.function
    def gradient_ascent_step(image, filter_index, learning_rate):
        with tf.GradientTape() as tape:
            tape.watch(image)
            loss = compute_loss(image, filter_index)
        grads = tape.gradient(loss, image)
        grads = tf.math.l2_normalize(grads)
        image += learning_rate * grads
        return image

    img_width = 200
    img_height = 200

    def generate_filter_pattern(filter_index, losses=None):
        iterations = run.steps(30)
        learning_rate = 10.
        image = tf.random.uniform(minval=0.4, maxval=0.6, shape=(1, img_width, img_height, 3))
        for i in range(iterations):
            if losses is not None:
                losses.append(float(compute_loss(image, filter_index)))
            image = gradient_ascent_step(image, filter_index, learning_rate)
        if losses is not None:
            losses.append(float(compute_loss(image, filter_index)))
        return image[0].numpy()

    def deprocess_image(image):
        image -= image.mean()
        image /= image.std()
        image *= 64
        image += 128
        image = np.clip(image, 0, 255).astype("uint8")
        image = image[25:-25, 25:-25, :]
        return image

    first_filter_losses = []
    all_images = [deprocess_image(generate_filter_pattern(0, first_filter_losses))]
    for filter_index in range(1, run.steps(64)):
        all_images.append(deprocess_image(generate_filter_pattern(filter_index)))
    run.value("first_filter_ascent_loss", first_filter_losses)
    run.value("filter_patterns", len(all_images))
    run.value("pattern_shape", all_images[0].shape)
    run.value("pattern_dtype", str(all_images[0].dtype))

    # The book's 8×8 grid of filter patterns with a 5-pixel margin (as many rows as there are patterns)
    margin = 5
    n = 8
    cropped_width = img_width - 25 * 2
    cropped_height = img_height - 25 * 2
    rows = -(-len(all_images) // n)
    stitched_filters = np.zeros((rows * cropped_width + (rows - 1) * margin,
                                 n * cropped_height + (n - 1) * margin, 3), dtype="uint8")
    for k, image in enumerate(all_images):
        i, j = divmod(k, n)
        stitched_filters[
            (cropped_width + margin) * i: (cropped_width + margin) * i + cropped_width,
            (cropped_height + margin) * j: (cropped_height + margin) * j + cropped_height,
            :,
        ] = image
    run.value("grid_shape", stitched_filters.shape)


# 9.4.3 Visualizing heatmaps of class activation (Grad-CAM) --------------------------------
@example("ch09_gradcam_xception", section="9.4.3", title="Grad-CAM class activation heatmap on Xception",
         datasets=("keras_applications", "book_images"), backends=("tensorflow",),
         needs=("xception-imagenet",))
def gradcam_xception(run: Run) -> None:
    """``decode_predictions`` would download the class index; the data layer hands it
    out instead (Keras's cached file in the book tier) and the top 3 are decoded the
    same way, by hand."""
    model = keras.applications.xception.Xception(
        weights=run.data("keras_applications", file="xception"))  # weights="imagenet" in the book
    run.model("model", model)
    img_path = run.data("book_images", fname="elephant.jpg")

    def get_img_array(img_path, target_size):
        img = keras.utils.load_img(img_path, target_size=target_size)
        array = keras.utils.img_to_array(img)
        array = np.expand_dims(array, axis=0)
        array = keras.applications.xception.preprocess_input(array)
        return array

    img_array = get_img_array(img_path, target_size=(299, 299))
    preds = model.predict(img_array)
    class_index = run.data("keras_applications", file="class_index")
    top = np.argsort(preds[0])[::-1][:3]
    run.value("top3_names", [class_index[str(i)][1] for i in top])
    run.value("top3_probs", preds[0][top])
    run.value("preds_shape", preds.shape)
    run.value("argmax", np.argmax(preds[0]))

    # Setting up a model that returns the last convolutional output
    last_conv_layer_name = "block14_sepconv2_act"
    classifier_layer_names = ["avg_pool", "predictions"]
    last_conv_layer = model.get_layer(last_conv_layer_name)
    last_conv_layer_model = keras.Model(model.inputs, last_conv_layer.output)

    # Reapplying the classifier on top of the last convolutional output
    classifier_input = keras.Input(shape=last_conv_layer.output.shape[1:])
    x = classifier_input
    for layer_name in classifier_layer_names:
        x = model.get_layer(layer_name)(x)
    classifier_model = keras.Model(classifier_input, x)

    # Retrieving the gradients of the top predicted class
    with tf.GradientTape() as tape:
        last_conv_layer_output = last_conv_layer_model(img_array)
        tape.watch(last_conv_layer_output)
        preds = classifier_model(last_conv_layer_output)
        top_pred_index = tf.argmax(preds[0])
        top_class_channel = preds[:, top_pred_index]
    grads = tape.gradient(top_class_channel, last_conv_layer_output)
    run.value("last_conv_output_shape", tuple(last_conv_layer_output.shape))

    # Gradient pooling and channel-importance weighting
    pooled_grads = tf.reduce_mean(grads, axis=(0, 1, 2)).numpy()
    last_conv_layer_output = last_conv_layer_output.numpy()[0]
    for i in range(pooled_grads.shape[-1]):
        last_conv_layer_output[:, :, i] *= pooled_grads[i]
    heatmap = np.mean(last_conv_layer_output, axis=-1)

    # Heatmap post-processing
    heatmap = np.maximum(heatmap, 0)
    heatmap /= np.max(heatmap)
    run.value("heatmap_shape", heatmap.shape)
    run.value("heatmap_min", heatmap.min())
    run.value("heatmap_max", heatmap.max())

    # Superimposing the heatmap on the original picture
    img = keras.utils.img_to_array(keras.utils.load_img(img_path))
    heatmap = np.uint8(255 * heatmap)
    jet_colors = _jet(np.arange(256))[:, :3]
    jet_heatmap = jet_colors[heatmap]
    jet_heatmap = keras.utils.array_to_img(jet_heatmap)
    jet_heatmap = jet_heatmap.resize((img.shape[1], img.shape[0]))
    jet_heatmap = keras.utils.img_to_array(jet_heatmap)
    superimposed_img = jet_heatmap * 0.4 + img
    run.value("superimposed_shape", superimposed_img.shape)


def _jet(values: np.ndarray) -> np.ndarray:
    import matplotlib

    return matplotlib.colormaps["jet"](values)
