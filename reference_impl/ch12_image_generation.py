"""Chapter 12 — Generative deep learning: DeepDream (§12.2) and neural style transfer (§12.3)

§12.2's DeepDream on InceptionV3 (gradient ascent on the activations of four mixed layers, over
three octaves with the lost detail reinjected) and §12.3's neural style transfer on VGG19 (a
content loss, Gram-matrix style losses and a total variation loss minimised by SGD on the pixels).
Both start from ImageNet weights in the book: ``run.data("keras_applications", file=...)`` stands
where the book writes ``weights="imagenet"`` (``None``, a random initialisation of the same
networks, where no weights can be had), and the book's pictures come from
``run.data("book_images")``.

The gradients are taken with ``tf.GradientTape`` inside ``tf.function`` as the listings take them
(``tf`` is imported on first use), so both examples run on TensorFlow only. Deviations are in each
example's docstring.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import keras
import numpy as np

from reference_impl.api import LazyModule, Run, example

tf = LazyModule("tensorflow")  # the listings' GradientTape, tf.function and tf.image.resize


# 12.2.1 Implementing DeepDream in Keras ------------------------------------------------------
layer_settings = {  # layers for which we try to maximise activation, and their weight in the total loss
    "mixed4": 1.0,
    "mixed5": 1.5,
    "mixed6": 2.0,
    "mixed7": 2.5,
}

# DeepDream parameters
step = 20.  # gradient ascent step size
num_octave = 3  # number of scales at which to run gradient ascent
octave_scale = 1.4  # size ratio between successive scales
iterations = 30  # number of gradient ascent steps per scale
max_loss = 15.  # we'll interrupt the gradient ascent process for a scale if the loss gets higher than this


def dream_feature_extractor(model: keras.Model) -> keras.Model:
    # A model that returns the activation values for every target layer (as a dict)
    outputs_dict = dict([(layer.name, layer.output)
                         for layer in [model.get_layer(name) for name in layer_settings.keys()]])
    return keras.Model(inputs=model.inputs, outputs=outputs_dict)


def dream_loss(feature_extractor: keras.Model, input_image: Any) -> Any:
    features = feature_extractor(input_image)  # extract activations
    loss = tf.zeros(shape=())  # initialise the loss to 0
    for name in features.keys():
        coeff = layer_settings[name]
        activation = features[name]
        # Avoid border artifacts by only involving non-border pixels in the loss.
        loss += coeff * tf.reduce_mean(tf.square(activation[:, 2:-2, 2:-2, :]))
    return loss


def dream_gradient_ascent_step(feature_extractor: keras.Model) -> Callable[[Any, float], tuple[Any, Any]]:
    """The listing's ``gradient_ascent_step`` over ``feature_extractor``, traced once for every image size."""

    @tf.function(input_signature=[tf.TensorSpec((1, None, None, 3)), tf.TensorSpec(())])
    def gradient_ascent_step(image, learning_rate):
        with tf.GradientTape() as tape:
            # Compute gradients of the DeepDream loss with respect to the current image.
            tape.watch(image)
            loss = dream_loss(feature_extractor, image)
        grads = tape.gradient(loss, image)
        grads = tf.math.l2_normalize(grads)  # normalise gradients (the same trick as in chapter 9)
        image += learning_rate * grads
        return loss, image

    return gradient_ascent_step


def gradient_ascent_loop(gradient_ascent_step: Callable[[Any, float], tuple[Any, Any]], image: Any, iterations: int,
                         learning_rate: float, max_loss: float | None = -1, losses: list[float] | None = None) -> Any:
    # Repeatedly update the image in a way that increases the DeepDream loss.
    for i in range(iterations):
        loss, image = gradient_ascent_step(image, learning_rate)
        if losses is not None:
            losses.append(float(loss))  # the value the listing prints at step i
        # Break out if the loss crosses a certain threshold (over-optimising would create unwanted artifacts).
        if max_loss is not None and loss > max_loss:
            break
    return image


def non_finite_losses(octave_losses: list[list[float]]) -> list[str]:
    """'octave N step M: loss' for every NaN or infinite loss of the ascent, in the order they were computed."""
    return [f"octave {octave} step {i}: loss" for octave, losses in enumerate(octave_losses)
            for i, loss in enumerate(losses) if not math.isfinite(loss)]


def octave_shapes(original_shape: tuple[int, int]) -> list[tuple[int, int]]:
    # Compute the target shape of the image for different octaves.
    successive_shapes = [original_shape]
    for i in range(1, num_octave):
        shape = tuple([int(dim / (octave_scale ** i)) for dim in original_shape])
        successive_shapes.append(shape)
    return successive_shapes[::-1]  # reverse the list of shapes so they're in increasing order


def dream_preprocess_image(image_path: str) -> np.ndarray:
    # Util function to open, resize and format pictures into appropriate arrays
    img = keras.utils.load_img(image_path)
    img = keras.utils.img_to_array(img)
    img = np.expand_dims(img, axis=0)
    img = keras.applications.inception_v3.preprocess_input(img)
    return img


def dream_deprocess_image(img: np.ndarray) -> np.ndarray:
    # Util function to convert a NumPy array into a valid image
    img = img.reshape((img.shape[1], img.shape[2], 3))
    img /= 2.0  # undo inception v3 preprocessing
    img += 0.5
    img *= 255.
    img = np.clip(img, 0, 255).astype("uint8")  # convert to uint8 and clip to the valid range [0, 255]
    return img


@example("ch12_deepdream_inceptionv3", section="12.2", title="DeepDream on InceptionV3",
         datasets=("keras_applications", "book_images"), backends=("tensorflow",),
         needs=("inception-v3-imagenet-notop",))
def deepdream_inceptionv3(run: Run) -> None:
    """The book's DeepDream, ``run.steps(30)`` ascent steps per octave. Deviations: the ascent step
    is traced once for every image size (``input_signature`` with free height and width) where the
    listing's ``@tf.function`` traces once per octave; the loss of every step is recorded, before
    the ``max_loss`` test, where the listing prints it after. Not in the listing: ``deprocess_image``
    is also applied to a probe pixel beyond the preprocessed range ([-3, 0, 3]) to show its clipping."""
    base_image_path = run.data("book_images", fname="coast.jpg")
    model = keras.applications.inception_v3.InceptionV3(
        weights=run.data("keras_applications", file="inception_v3_notop"),  # weights="imagenet" in the book
        include_top=False)
    run.model("inception_v3", model)
    feature_extractor = dream_feature_extractor(model)
    gradient_ascent_step = dream_gradient_ascent_step(feature_extractor)
    run.value("layer_settings", layer_settings)

    # 12.2.1 Running gradient ascent over multiple successive "octaves"
    original_img = dream_preprocess_image(base_image_path)  # load the test image
    original_shape = original_img.shape[1:3]
    successive_shapes = octave_shapes(original_shape)
    run.value("original_shape", original_shape)
    run.value("successive_shapes", successive_shapes)

    shrunk_original_img = tf.image.resize(original_img, successive_shapes[0])
    img = tf.identity(original_img)  # make a copy of the image (we need to keep the original around)
    octave_losses = []
    for i, shape in enumerate(successive_shapes):  # iterate over the different octaves
        img = tf.image.resize(img, shape)  # scale up the dream image
        losses: list[float] = []
        img = gradient_ascent_loop(  # run gradient ascent, altering the dream
            gradient_ascent_step, img, iterations=run.steps(iterations), learning_rate=step, max_loss=max_loss,
            losses=losses)
        octave_losses.append(losses)
        # Scale up the smaller version of the original image: it will be pixellated.
        upscaled_shrunk_original_img = tf.image.resize(shrunk_original_img, shape)
        # Compute the high-quality version of the original image at this size.
        same_size_original = tf.image.resize(original_img, shape)
        lost_detail = same_size_original - upscaled_shrunk_original_img  # the difference is the detail lost
        img += lost_detail  # reinject lost detail into the dream
        shrunk_original_img = tf.image.resize(original_img, shape)
    run.value("octave_losses", octave_losses)
    run.value("non_finite_losses", non_finite_losses(octave_losses))

    dream = dream_deprocess_image(img.numpy())  # keras.utils.save_img("dream.png", ...) in the book
    run.value("dream_shape", dream.shape)
    run.value("dream_dtype", str(dream.dtype))
    run.value("dream_min", int(dream.min()))
    run.value("dream_max", int(dream.max()))
    run.value("deprocess_probe", dream_deprocess_image(np.array([[[[-3., 0., 3.]]]]))[0, 0])


# 12.3.3 Neural style transfer in Keras -----------------------------------------------------
img_height = 400  # dimensions of the generated picture

style_layer_names = [  # list of layers to use for the style loss
    "block1_conv1",
    "block2_conv1",
    "block3_conv1",
    "block4_conv1",
    "block5_conv1",
]
content_layer_name = "block5_conv2"  # the layer to use for the content loss
total_variation_weight = 1e-6  # contribution weight of the total variation loss
style_weight = 1e-6  # contribution weight of the style loss
content_weight = 2.5e-8  # contribution weight of the content loss

# Not in the book: the (height, width) a synthetic stand-in for the pictures is drawn at, small enough
# for a CPU to afford a few iterations of VGG19 on three of them (the book's pictures ignore it).
STYLE_TRANSFER_STAND_IN = (48, 64)


def content_loss(base_img: Any, combination_img: Any) -> Any:
    return tf.reduce_sum(tf.square(combination_img - base_img))


def gram_matrix(x: Any) -> Any:
    x = tf.transpose(x, (2, 0, 1))
    features = tf.reshape(x, (tf.shape(x)[0], -1))
    gram = tf.matmul(features, tf.transpose(features))
    return gram


def style_loss(style_img: Any, combination_img: Any, img_height: int, img_width: int) -> Any:
    S = gram_matrix(style_img)
    C = gram_matrix(combination_img)
    channels = 3
    size = img_height * img_width
    return tf.reduce_sum(tf.square(S - C)) / (4.0 * (channels ** 2) * (size ** 2))


def total_variation_loss(x: Any, img_height: int, img_width: int) -> Any:
    a = tf.square(x[:, : img_height - 1, : img_width - 1, :] - x[:, 1:, : img_width - 1, :])
    b = tf.square(x[:, : img_height - 1, : img_width - 1, :] - x[:, : img_height - 1, 1:, :])
    return tf.reduce_sum(tf.pow(a + b, 1.25))


def style_transfer_losses(feature_extractor: keras.Model, combination_image: Any, base_image: Any,
                          style_reference_image: Any, img_height: int, img_width: int) -> dict[str, Any]:
    """The listing's ``compute_loss``, its terms returned one by one: ``loss`` (the total it returns),
    ``content`` and ``style`` (each layer's style loss, unweighted, summed) and ``variation``."""
    input_tensor = tf.concat([base_image, style_reference_image, combination_image], axis=0)
    features = feature_extractor(input_tensor)
    loss = tf.zeros(shape=())  # initialise the loss to 0
    # Add the content loss.
    layer_features = features[content_layer_name]
    base_image_features = layer_features[0, :, :, :]
    combination_features = layer_features[2, :, :, :]
    content = content_loss(base_image_features, combination_features)
    loss = loss + content_weight * content
    # Add the style loss.
    style = tf.zeros(shape=())
    for layer_name in style_layer_names:
        layer_features = features[layer_name]
        style_reference_features = layer_features[1, :, :, :]
        combination_features = layer_features[2, :, :, :]
        style_loss_value = style_loss(style_reference_features, combination_features, img_height, img_width)
        style += style_loss_value
        loss += (style_weight / len(style_layer_names)) * style_loss_value
    # Add the total variation loss.
    variation = total_variation_loss(combination_image, img_height, img_width)
    loss += total_variation_weight * variation
    return {"loss": loss, "content": content, "style": style, "variation": variation}


def style_preprocess_image(image_path: str, img_height: int, img_width: int) -> np.ndarray:
    # Util function to open, resize and format pictures into appropriate arrays
    img = keras.utils.load_img(image_path, target_size=(img_height, img_width))
    img = keras.utils.img_to_array(img)
    img = np.expand_dims(img, axis=0)
    img = keras.applications.vgg19.preprocess_input(img)
    return img


def style_deprocess_image(img: np.ndarray, img_height: int, img_width: int) -> np.ndarray:
    # Util function to convert a NumPy array into a valid image
    img = img.reshape((img_height, img_width, 3))
    # Zero-centering by removing the mean pixel value from ImageNet; this reverses a transformation
    # done by vgg19.preprocess_input.
    img[:, :, 0] += 103.939
    img[:, :, 1] += 116.779
    img[:, :, 2] += 123.68
    img = img[:, :, ::-1]  # convert images from 'BGR' to 'RGB' (also part of the reversal of vgg19.preprocess_input)
    img = np.clip(img, 0, 255).astype("uint8")
    return img


@example("ch12_neural_style_transfer_vgg19", section="12.3", title="Neural style transfer with VGG19",
         datasets=("keras_applications", "book_images"), backends=("tensorflow",),
         needs=("vgg19-imagenet-notop",))
def neural_style_transfer_vgg19(run: Run) -> None:
    """The book's style transfer, ``run.steps(4000)`` SGD iterations. Deviations: the listing's
    ``compute_loss`` returns its terms as well as their total (``style_transfer_losses``), and
    ``img_height``, ``img_width`` are arguments of the loss functions rather than globals; the
    generated picture is ``min(400, height of the content picture)`` pixels high (the book's 400
    for any content picture at least that tall), so that a synthetic stand-in drawn at
    ``STYLE_TRANSFER_STAND_IN`` is not upscaled. Not in the listing: the loss and its terms are
    recorded at every iteration, the Gram matrix of the first style layer is compared with
    ``np.einsum``, and ``deprocess_image`` is applied to a probe pixel beyond the range of a picture."""
    base_image_path = run.data("book_images", fname="sf.jpg", stand_in_size=STYLE_TRANSFER_STAND_IN)
    style_reference_image_path = run.data("book_images", fname="starry_night.jpg",
                                          stand_in_size=STYLE_TRANSFER_STAND_IN)
    original_width, original_height = keras.utils.load_img(base_image_path).size
    height = min(img_height, original_height)
    width = round(original_width * height / original_height)
    run.value("combination_shape", (height, width, 3))

    # Using a pretrained VGG19 model to create a feature extractor
    model = keras.applications.vgg19.VGG19(
        weights=run.data("keras_applications", file="vgg19_notop"),  # weights="imagenet" in the book
        include_top=False)
    run.model("vgg19", model)
    outputs_dict = dict([(layer.name, layer.output) for layer in model.layers])
    feature_extractor = keras.Model(inputs=model.inputs, outputs=outputs_dict)
    run.value("content_layer", content_layer_name)
    run.value("style_layers", style_layer_names)
    run.value("loss_weights", {"content": content_weight, "style": style_weight,
                               "total_variation": total_variation_weight})

    # Setting up the gradient-descent process
    @tf.function
    def compute_loss_and_grads(combination_image, base_image, style_reference_image):
        with tf.GradientTape() as tape:
            losses = style_transfer_losses(feature_extractor, combination_image, base_image, style_reference_image,
                                           height, width)
        grads = tape.gradient(losses["loss"], combination_image)
        return losses, grads

    optimizer = keras.optimizers.SGD(
        keras.optimizers.schedules.ExponentialDecay(initial_learning_rate=100., decay_steps=100, decay_rate=0.96))
    run.value("learning_rate_schedule", optimizer.get_config()["learning_rate"])

    base_image = style_preprocess_image(base_image_path, height, width)
    style_reference_image = style_preprocess_image(style_reference_image_path, height, width)
    combination_image = tf.Variable(style_preprocess_image(base_image_path, height, width))

    # The Gram matrix of the first style layer's activations on the content picture
    activation = feature_extractor(base_image)[style_layer_names[0]][0]
    gram = gram_matrix(activation).numpy()
    expected = np.einsum("hwc,hwd->cd", activation.numpy().astype("float64"), activation.numpy().astype("float64"))
    run.value("gram_shape", gram.shape)
    run.value("gram_asymmetry", float(np.max(np.abs(gram - gram.T)) / np.max(np.abs(gram))))
    run.value("gram_error", float(np.max(np.abs(gram - expected)) / np.max(np.abs(expected)))
              if gram.shape == expected.shape else math.inf)

    terms = {"loss": [], "content": [], "style": [], "variation": []}
    for i in range(1, run.steps(4000) + 1):
        losses, grads = compute_loss_and_grads(combination_image, base_image, style_reference_image)
        optimizer.apply_gradients([(grads, combination_image)])
        for name, value in losses.items():  # the book prints the loss every 100 iterations
            terms[name].append(float(value))
    final_losses, _ = compute_loss_and_grads(combination_image, base_image, style_reference_image)
    for name, value in final_losses.items():  # the losses of the last iteration's output
        terms[name].append(float(value))
    run.value("losses", terms["loss"])
    run.value("content_losses", terms["content"])
    run.value("style_losses", terms["style"])
    run.value("variation_losses", terms["variation"])
    run.value("non_finite_losses", [f"iteration {i}: {name}" for i in range(1, len(terms["loss"]) + 1)
                                    for name, values in terms.items() if not math.isfinite(values[i - 1])])
    run.value("content_image_loss", terms["loss"][0])  # the content picture itself, unchanged: iteration 1's input
    run.value("final_loss", terms["loss"][-1])

    img = style_deprocess_image(combination_image.numpy(), height, width)  # saved every 100 iterations in the book
    run.value("image_shape", img.shape)
    run.value("image_dtype", str(img.dtype))
    run.value("deprocess_probe", style_deprocess_image(np.array([[[[-200., 0., 200.]]]]), 1, 1)[0, 0])
