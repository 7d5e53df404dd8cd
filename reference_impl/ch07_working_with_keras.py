"""Chapter 7 — Working with Keras: a deep dive.

The three ways to build a model (Sequential, functional, subclassed) and their mixes (§7.2),
the built-in training loop with a custom metric, callbacks and TensorBoard (§7.3), and training
loops written by hand, eagerly, compiled, and inside ``fit`` (§7.4).

Sections 7.4.3–7.4.5 use ``tf.GradientTape`` and ``tf.function`` and run on TensorFlow only;
everything else is Keras and runs on every backend. Deviations from the listings are in each
example's docstring; where the R edition's code differs, that is said too.
"""

from __future__ import annotations

import importlib.util
import math
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
from keras import layers, ops

from reference_impl import baselines
from reference_impl.api import LazyModule, PackageUnavailable, Run, Scale, example

tf = LazyModule("tensorflow")  # §7.4.3–7.4.5 write training steps with TensorFlow itself (imported on first use)


def scaled_count(run: Run, book_count: int) -> int:
    """A sample count the book states for data it makes up itself (the 1,280 tickets), scaled by
    the tier's ``samples`` knob as the dataset twins are."""
    return Scale.scaled(book_count, run.scale.samples)


# 7.2.1 The Sequential model ------------------------------------------------------------------
@example("ch07_sequential_build_summary", section="7.2.1", title="The Sequential model: build, summary, naming")
def sequential_build_summary(run: Run) -> None:
    """Deviation: the Python and R books say that reading ``model.weights`` before the model is
    built raises an error; Keras 3 returns an empty list. Either way no weight exists yet, which is
    what the example records (``values.weights_before_build``)."""
    model = keras.Sequential([
        layers.Dense(64, activation="relu"),
        layers.Dense(10, activation="softmax")
    ])
    try:
        run.value("weights_before_build", len(model.weights))
    except ValueError as error:  # tf.keras 2.x: "Weights for model ... have not yet been created"
        run.value("weights_before_build", 0)
        run.value("weights_before_build_error", type(error).__name__)

    model.build(input_shape=(None, 3))
    run.value("weight_shapes", [tuple(w.shape) for w in model.weights])
    run.value("summary_total_params", model.count_params())
    run.model("model", model)

    # Naming models and layers with the name argument
    model = keras.Sequential(name="my_example_model")
    model.add(layers.Dense(64, activation="relu", name="my_first_layer"))
    model.add(layers.Dense(10, activation="softmax", name="my_last_layer"))
    model.build((None, 3))
    lines: list[str] = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line))
    summary = "\n".join(lines)
    run.value("named_model_name", model.name)
    run.value("named_layer_names", [layer.name for layer in model.layers])
    run.value("summary_names_model_and_layers",
              all(name in summary for name in ("my_example_model", "my_first_layer", "my_last_layer")))
    run.model("named_model", model)

    # Specifying the input shape in advance: the summary is available while building
    model = keras.Sequential()
    model.add(keras.Input(shape=(3,)))
    model.add(layers.Dense(64, activation="relu"))
    run.value("incremental_output_shape", tuple(model.layers[-1].output.shape))
    model.add(layers.Dense(10, activation="softmax"))
    run.model("incremental_model", model)


# 7.2.2 The Functional API -------------------------------------------------------------------
@example("ch07_functional_simple", section="7.2.2", title="The Functional API: a simple example")
def functional_simple(run: Run) -> None:
    inputs = keras.Input(shape=(3,), name="my_input")
    features = layers.Dense(64, activation="relu")(inputs)
    outputs = layers.Dense(10, activation="softmax")(features)
    model = keras.Model(inputs=inputs, outputs=outputs)
    run.value("inputs_shape", tuple(inputs.shape))
    run.value("inputs_dtype", str(inputs.dtype))
    run.value("features_shape", tuple(features.shape))
    run.value("input_name", model.inputs[0].name)
    run.model("model", model)


# 7.2.2 Multi-input, multi-output models: the customer-ticket model ----------------------------
vocabulary_size = 10000
num_tags = 100
num_departments = 4
KEYWORDS = 50  # words of the vocabulary that mark a department (suite's twin, see ticket_data)
URGENT_WORDS = range(vocabulary_size - 100, vocabulary_size)


def ticket_data(num_samples: int) -> dict[str, np.ndarray]:
    """Tickets in the layout of the book's dummy data: multi-hot ``title`` and ``text_body``
    (10,000 words), multi-hot ``tags`` (100), a ``priority`` in [0, 1] and a one-hot
    ``department`` (4).

    Deviation: the book fills every array with random numbers (0/1 inputs, uniform priority,
    random 0/1 departments; the R edition draws ``priority`` as 0/1 too), so a model can learn
    nothing from them and no outcome of the fit could be checked. This twin keeps the layout and
    gives the targets something to learn: each ticket has a department, whose 25 tags and 50
    keywords it mostly carries, beside random words and tags; urgent tickets (30 %) carry words
    of an urgent vocabulary and have a priority in [0.7, 1], the others one in [0, 0.3]. The
    words are sparse, as bags of words are. Drawn with NumPy's global generator (seeded by the
    runner)."""
    department = np.random.randint(0, num_departments, size=num_samples)
    urgent = np.random.random(num_samples) < 0.3
    title = np.zeros((num_samples, vocabulary_size), dtype="float32")
    text_body = np.zeros((num_samples, vocabulary_size), dtype="float32")
    tags = np.zeros((num_samples, num_tags), dtype="float32")
    rows = np.arange(num_samples)[:, None]
    keyword = department[:, None] * KEYWORDS
    title[rows, np.random.randint(0, vocabulary_size, size=(num_samples, 5))] = 1
    title[rows, keyword + np.random.randint(0, KEYWORDS, size=(num_samples, 3))] = 1
    text_body[rows, np.random.randint(0, vocabulary_size, size=(num_samples, 40))] = 1
    text_body[rows, keyword + np.random.randint(0, KEYWORDS, size=(num_samples, 5))] = 1
    urgent_words = np.random.choice(URGENT_WORDS, size=(num_samples, 4))
    text_body[np.flatnonzero(urgent)[:, None], urgent_words[urgent]] = 1
    tags[rows, department[:, None] * 25 + np.random.randint(0, 25, size=(num_samples, 2))] = 1
    tags[rows, np.random.randint(0, num_tags, size=(num_samples, 1))] = 1
    priority = np.where(urgent, 0.7 + 0.3 * np.random.random(num_samples), 0.3 * np.random.random(num_samples))
    return {
        "title": title, "text_body": text_body, "tags": tags,
        "priority": priority.astype("float32")[:, None],
        "department": keras.utils.to_categorical(department, num_departments).astype("float32"),
    }


def record_ticket_baselines(run: Run, train: dict[str, np.ndarray], held_out: dict[str, np.ndarray],
                            department_preds: np.ndarray, priority_preds: np.ndarray) -> None:
    """The held-out department accuracy and priority MAE, beside a predictor that ignores the ticket."""
    run.value("held_out_department_acc",
              np.mean(np.argmax(department_preds, axis=1) == np.argmax(held_out["department"], axis=1)))
    run.value("majority_department_acc", baselines.majority_class_accuracy(train["department"], held_out["department"]))
    run.value("held_out_priority_mae", np.mean(np.abs(priority_preds - held_out["priority"])))
    run.value("mean_priority_mae", baselines.mean_target_mae(train["priority"], held_out["priority"]))


@example("ch07_ticket_multi_io", section="7.2.2", title="A multi-input, multi-output functional model")
def ticket_multi_io(run: Run) -> None:
    """Deviations: the data (see ``ticket_data``); and the suite scores the model on tickets it
    was not fitted on (a quarter as many as the training tickets), where the book evaluates and
    predicts on its training data. The evaluations with inputs given as lists and as dicts are
    made on the same weights, before the book's second ``fit``, so their losses must agree."""
    title = keras.Input(shape=(vocabulary_size,), name="title")
    text_body = keras.Input(shape=(vocabulary_size,), name="text_body")
    tags = keras.Input(shape=(num_tags,), name="tags")

    features = layers.Concatenate()([title, text_body, tags])
    features = layers.Dense(64, activation="relu")(features)

    priority = layers.Dense(1, activation="sigmoid", name="priority")(features)
    department = layers.Dense(num_departments, activation="softmax", name="department")(features)

    model = keras.Model(inputs=[title, text_body, tags], outputs=[priority, department])
    run.model("model", model)

    num_samples = scaled_count(run, 1280)
    data = ticket_data(num_samples)
    held_out = ticket_data(max(1, num_samples // 4))
    title_data, text_body_data, tags_data = data["title"], data["text_body"], data["tags"]
    priority_data, department_data = data["priority"], data["department"]
    run.value("num_samples", num_samples)

    # Training a model by providing lists of input and target arrays
    model.compile(optimizer="rmsprop",
                  loss=["mean_squared_error", "categorical_crossentropy"],
                  metrics=[["mean_absolute_error"], ["accuracy"]])
    history = model.fit([title_data, text_body_data, tags_data],
                        [priority_data, department_data],
                        epochs=1)
    run.history("fit_lists", history)
    as_lists = model.evaluate([held_out["title"], held_out["text_body"], held_out["tags"]],
                              [held_out["priority"], held_out["department"]], return_dict=True)
    priority_preds, department_preds = model.predict([title_data, text_body_data, tags_data])
    run.value("predictions_shapes", [priority_preds.shape, department_preds.shape])

    # Training a model by providing dicts of input and target arrays
    model.compile(optimizer="rmsprop",
                  loss={"priority": "mean_squared_error", "department": "categorical_crossentropy"},
                  metrics={"priority": ["mean_absolute_error"], "department": ["accuracy"]})
    as_dicts = model.evaluate({"title": held_out["title"], "text_body": held_out["text_body"], "tags": held_out["tags"]},
                              {"priority": held_out["priority"], "department": held_out["department"]},
                              return_dict=True)
    run.value("evaluate_lists", as_lists)
    run.value("evaluate_dicts", as_dicts)
    run.value("lists_vs_dicts_loss_diff", abs(as_lists["loss"] - as_dicts["loss"]))
    history = model.fit({"title": title_data, "text_body": text_body_data, "tags": tags_data},
                        {"priority": priority_data, "department": department_data},
                        epochs=1)
    run.history("fit_dicts", history)
    priority_preds, department_preds = model.predict(
        {"title": held_out["title"], "text_body": held_out["text_body"], "tags": held_out["tags"]})
    record_ticket_baselines(run, data, held_out, department_preds, priority_preds)

    # The power of the Functional API: access to layer connectivity
    run.value("plot_model", plot_model_files(model))
    run.value("layer_names", [layer.name for layer in model.layers])
    run.value("concatenate_input_shapes", [tuple(t.shape) for t in model.layers[3].input])
    run.value("concatenate_output_shape", tuple(model.layers[3].output.shape))

    # Creating a new model by reusing intermediate layer outputs
    features = model.layers[4].output
    difficulty = layers.Dense(3, activation="softmax", name="difficulty")(features)
    new_model = keras.Model(inputs=[title, text_body, tags], outputs=[priority, department, difficulty])
    run.model("new_model", new_model)
    run.value("difficulty_head_params", new_model.count_params() - model.count_params())
    run.value("reused_layers_shared", all(new_model.get_layer(name) is model.get_layer(name)
                                          for name in ("priority", "department")))
    new_priority_preds = new_model.predict(
        {"title": held_out["title"], "text_body": held_out["text_body"], "tags": held_out["tags"]})[0]
    run.value("reused_priority_max_abs_diff", np.max(np.abs(new_priority_preds - priority_preds)))


def plot_model_files(model: keras.Model) -> dict[str, object]:
    """``plot_model`` as the book calls it (with and without shapes), into a scratch folder: the
    names of the files it wrote, or why it could not (pydot and the graphviz programs are
    optional; without them Keras raises ImportError)."""
    with tempfile.TemporaryDirectory() as folder:
        try:
            keras.utils.plot_model(model, str(Path(folder) / "ticket_classifier.png"))
            keras.utils.plot_model(model, str(Path(folder) / "ticket_classifier_with_shape_info.png"),
                                   show_shapes=True)
        except ImportError as missing:
            return {"skipped": f"plot_model needs pydot and graphviz: {missing}"}
        return {"written": sorted(p.name for p in Path(folder).iterdir() if p.stat().st_size > 0)}


# 7.2.3 Subclassing the Model class ----------------------------------------------------------
class CustomerTicketModel(keras.Model):

    def __init__(self, num_departments):
        super().__init__()
        self.concat_layer = layers.Concatenate()
        self.mixing_layer = layers.Dense(64, activation="relu")
        self.priority_scorer = layers.Dense(1, activation="sigmoid")
        self.department_classifier = layers.Dense(num_departments, activation="softmax")

    def call(self, inputs):
        title = inputs["title"]
        text_body = inputs["text_body"]
        tags = inputs["tags"]

        features = self.concat_layer([title, text_body, tags])
        features = self.mixing_layer(features)
        priority = self.priority_scorer(features)
        department = self.department_classifier(features)
        return priority, department


@example("ch07_ticket_subclassed", section="7.2.3", title="Rewriting the ticket model as a subclassed model")
def ticket_subclassed(run: Run) -> None:
    """Deviations: the data (see ``ticket_data``), and the held-out tickets the suite scores the
    model on. The R edition wraps the class with ``create_layer_wrapper``; the Python class is
    called directly."""
    num_samples = scaled_count(run, 1280)
    data = ticket_data(num_samples)
    held_out = ticket_data(max(1, num_samples // 4))
    inputs = {"title": data["title"], "text_body": data["text_body"], "tags": data["tags"]}
    held_out_inputs = {"title": held_out["title"], "text_body": held_out["text_body"], "tags": held_out["tags"]}

    model = CustomerTicketModel(num_departments=4)
    run.value("weights_before_call", len(model.weights))
    priority, department = model(inputs)
    run.value("call_output_shapes", [tuple(priority.shape), tuple(department.shape)])
    run.model("model", model)

    model.compile(optimizer="rmsprop",
                  loss=["mean_squared_error", "categorical_crossentropy"],
                  metrics=[["mean_absolute_error"], ["accuracy"]])
    history = model.fit(inputs, [data["priority"], data["department"]], epochs=1)
    run.history("fit", history)
    run.value("evaluate", model.evaluate(held_out_inputs, [held_out["priority"], held_out["department"]],
                                         return_dict=True))
    priority_preds, department_preds = model.predict(inputs)
    run.value("predictions_shapes", [priority_preds.shape, department_preds.shape])
    priority_preds, department_preds = model.predict(held_out_inputs)
    record_ticket_baselines(run, data, held_out, department_preds, priority_preds)


# 7.2.4 Mixing and matching different components ---------------------------------------------
class Classifier(keras.Model):

    def __init__(self, num_classes=2):
        super().__init__()
        if num_classes == 2:
            num_units = 1
            activation = "sigmoid"
        else:
            num_units = num_classes
            activation = "softmax"
        self.dense = layers.Dense(num_units, activation=activation)

    def call(self, inputs):
        return self.dense(inputs)


class MyModel(keras.Model):

    def __init__(self, classifier, num_classes=2):
        super().__init__()
        self.dense = layers.Dense(64, activation="relu")
        self.classifier = classifier

    def call(self, inputs):
        features = self.dense(inputs)
        return self.classifier(features)


@example("ch07_mixing_models", section="7.2.4", title="Mixing subclassed and functional models")
def mixing_models(run: Run) -> None:
    """The listings build the two models and stop. The suite calls ``MyModel`` on a batch of
    3-feature samples (the same input as the first model) so that its weights exist, and passes
    the functional classifier to its constructor where the listing reads a global variable (the
    R edition does the same through its globals)."""
    # A functional model that includes a subclassed model
    inputs = keras.Input(shape=(3,))
    features = layers.Dense(64, activation="relu")(inputs)
    outputs = Classifier(num_classes=10)(features)
    model = keras.Model(inputs=inputs, outputs=outputs)
    run.value("functional_output_shape", tuple(model.output.shape))
    run.model("functional_with_subclassed", model)

    # A subclassed model that includes a functional model
    inputs = keras.Input(shape=(64,))
    outputs = layers.Dense(1, activation="sigmoid")(inputs)
    binary_classifier = keras.Model(inputs=inputs, outputs=outputs)
    run.model("binary_classifier", binary_classifier)

    model = MyModel(binary_classifier)
    predictions = model(np.zeros((2, 3), dtype="float32"))
    run.value("subclassed_output_shape", tuple(predictions.shape))
    run.value("subclassed_reuses_functional", model.classifier is binary_classifier)
    run.model("subclassed_with_functional", model)


# 7.3 Using built-in training and evaluation loops ---------------------------------------------
def get_mnist_model() -> keras.Model:
    inputs = keras.Input(shape=(28 * 28,))
    features = layers.Dense(512, activation="relu")(inputs)
    features = layers.Dropout(0.5)(features)
    outputs = layers.Dense(10, activation="softmax")(features)
    model = keras.Model(inputs, outputs)
    return model


def mnist_splits(run: Run):
    """The §7.3 data: images flattened to 784 values in [0, 1]; the first sixth of the training
    images held out for validation (the book's ``images[:10000]`` of 60,000; the same share of a
    tier's smaller set), the rest for training."""
    (images, labels), (test_images, test_labels) = run.data("mnist")
    images = images.reshape((len(images), 28 * 28)).astype("float32") / 255
    test_images = test_images.reshape((len(test_images), 28 * 28)).astype("float32") / 255
    num_validation = len(images) // 6
    train_images, val_images = images[num_validation:], images[:num_validation]
    train_labels, val_labels = labels[num_validation:], labels[:num_validation]
    run.value("validation_samples", len(val_images))
    run.value("train_samples", len(train_images))
    run.value("majority_class_val_acc", baselines.majority_class_accuracy(train_labels, val_labels))
    return (train_images, train_labels), (val_images, val_labels), (test_images, test_labels)


@example("ch07_mnist_standard_workflow", section="7.3", title="The standard workflow: compile(), fit(), evaluate(), predict()",
         datasets=("mnist",))
def mnist_standard_workflow(run: Run) -> None:
    (train_images, train_labels), (val_images, val_labels), (test_images, test_labels) = mnist_splits(run)
    model = get_mnist_model()
    run.model("model", model)
    model.compile(optimizer="rmsprop",
                  loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(train_images, train_labels,
                        epochs=run.epochs(3),
                        validation_data=(val_images, val_labels))
    run.history("fit", history)
    test_metrics = model.evaluate(test_images, test_labels)
    run.value("test_loss", test_metrics[0])
    run.value("test_acc", test_metrics[1])
    run.value("majority_class_test_acc", baselines.majority_class_accuracy(train_labels, test_labels))
    predictions = model.predict(test_images)
    run.value("predictions_shape", predictions.shape)


# 7.3.1 Writing your own metrics -------------------------------------------------------------
def one_hot_targets(y_true, depth):
    """The integer labels as one-hot rows. The labels are flattened first: ``tf.keras`` 2.x hands a
    metric sparse labels as a (batch, 1) column, and a one-hot of that column is (batch, 1, 10),
    which broadcasts against the (batch, 10) predictions into (batch, batch, 10) and inflates the
    sum of squares about ``batch`` times (a third-party run of the book's notebook printed a
    validation RMSE of 7.36)."""
    return ops.one_hot(ops.reshape(ops.cast(y_true, "int32"), (-1,)), depth)


class RootMeanSquaredError(keras.metrics.Metric):
    """The book's metric in Keras 3 form (``keras.ops`` where the listing has ``tf``, so it runs
    on every backend), with the labels flattened (see ``one_hot_targets``). Like the book's, it
    divides the summed squared error by the number of samples, not of entries, so it is
    √10 × ``keras.metrics.RootMeanSquaredError`` of the one-hot targets."""

    def __init__(self, name="rmse", **kwargs):
        super().__init__(name=name, **kwargs)
        self.mse_sum = self.add_weight(name="mse_sum", initializer="zeros")
        self.total_samples = self.add_weight(name="total_samples", initializer="zeros", dtype="int32")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = one_hot_targets(y_true, ops.shape(y_pred)[1])
        mse = ops.sum(ops.square(y_true - y_pred))
        self.mse_sum.assign_add(mse)
        num_samples = ops.shape(y_pred)[0]
        self.total_samples.assign_add(num_samples)

    def result(self):
        return ops.sqrt(self.mse_sum / ops.cast(self.total_samples, "float32"))

    def reset_state(self):
        self.mse_sum.assign(0.)
        self.total_samples.assign(0)


@example("ch07_custom_metric_rmse", section="7.3.1", title="A custom metric: root mean squared error",
         datasets=("mnist",))
def custom_metric_rmse(run: Run) -> None:
    """Not in the listing: the validation RMSE the metric reports is checked against Keras's own
    ``RootMeanSquaredError`` on the same predictions (times √10, see the class), which catches
    the broadcasting pitfall described in ``one_hot_targets``. Left out: the listing's closing
    ``model.evaluate(test_images, test_labels)``, whose numbers the book does not print."""
    (train_images, train_labels), (val_images, val_labels), _ = mnist_splits(run)
    model = get_mnist_model()
    model.compile(optimizer="rmsprop",
                  loss="sparse_categorical_crossentropy",
                  metrics=["accuracy", RootMeanSquaredError()])
    history = model.fit(train_images, train_labels,
                        epochs=run.epochs(3),
                        validation_data=(val_images, val_labels))
    run.history("fit", history)
    predictions = model.predict(val_images)
    keras_rmse = keras.metrics.RootMeanSquaredError()
    keras_rmse.update_state(keras.utils.to_categorical(val_labels, 10), predictions)
    reference = math.sqrt(10) * float(keras_rmse.result())
    run.value("keras_rmse_times_sqrt10", reference)
    run.value("val_rmse", history.history["val_rmse"][-1])
    run.value("val_rmse_relative_error", abs(history.history["val_rmse"][-1] - reference) / reference)


# 7.3.2 Using callbacks: EarlyStopping and ModelCheckpoint ----------------------------------------
@example("ch07_callbacks_earlystop_checkpoint", section="7.3.2", title="EarlyStopping and ModelCheckpoint callbacks",
         datasets=("mnist",))
def callbacks_earlystop_checkpoint(run: Run) -> None:
    """The checkpoint goes to a scratch folder; the reloaded model is evaluated on the validation
    set, whose loss must be the lowest the fit reported. The R edition reloads it with
    ``load_model_tf``."""
    (train_images, train_labels), (val_images, val_labels), _ = mnist_splits(run)
    with tempfile.TemporaryDirectory() as folder:
        checkpoint_path = str(Path(folder) / "checkpoint_path.keras")
        callbacks_list = [
            keras.callbacks.EarlyStopping(
                monitor="val_accuracy",
                patience=2,
            ),
            keras.callbacks.ModelCheckpoint(
                filepath=checkpoint_path,
                monitor="val_loss",
                save_best_only=True,
            )
        ]
        model = get_mnist_model()
        model.compile(optimizer="rmsprop",
                      loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        epochs = run.epochs(10)
        history = model.fit(train_images, train_labels,
                            epochs=epochs,
                            callbacks=callbacks_list,
                            validation_data=(val_images, val_labels))
        run.history("fit", history)
        model = keras.models.load_model(checkpoint_path)
    reloaded_val_loss, reloaded_val_acc = model.evaluate(val_images, val_labels)
    val_loss = history.history["val_loss"]
    val_accuracy = history.history["val_accuracy"]
    run.value("epochs_requested", epochs)
    run.value("epochs_run", len(val_loss))
    run.value("reloaded_val_loss", reloaded_val_loss)
    run.value("reloaded_val_acc", reloaded_val_acc)
    run.value("reloaded_minus_best_val_loss", reloaded_val_loss - min(val_loss))
    # EarlyStopping keeps the first epoch of the highest validation accuracy as its best
    best_accuracy_epoch = int(np.argmax(val_accuracy)) + 1
    run.value("epochs_after_best_val_accuracy", len(val_accuracy) - best_accuracy_epoch)
    run.value("stopped_early", len(val_loss) < epochs)


# 7.3.3 Writing your own callbacks -------------------------------------------------------------
class LossHistory(keras.callbacks.Callback):
    """The book's per-batch loss plotter. ``folder`` (not in the listing) is where the plots go;
    the listing writes them to the working directory."""

    def __init__(self, folder):
        super().__init__()
        self.folder = Path(folder)
        self.points_per_plot = []

    def on_train_begin(self, logs):
        self.per_batch_losses = []

    def on_batch_end(self, batch, logs):
        self.per_batch_losses.append(logs.get("loss"))

    def on_epoch_end(self, epoch, logs):
        from matplotlib import pyplot as plt

        plt.clf()
        plt.plot(range(len(self.per_batch_losses)), self.per_batch_losses,
                 label="Training loss for each batch")
        plt.xlabel(f"Batch (epoch {epoch})")
        plt.ylabel("Loss")
        plt.legend()
        plt.savefig(self.folder / f"plot_at_epoch_{epoch}")
        self.points_per_plot.append(len(self.per_batch_losses))
        self.per_batch_losses = []


@example("ch07_custom_callback_batch_loss", section="7.3.3", title="A custom callback that plots per-batch losses",
         datasets=("mnist",))
def custom_callback_batch_loss(run: Run) -> None:
    """The Python book's callback, which writes one PNG per epoch with matplotlib (the R edition
    collects the losses in a ``fastmap`` stack, writes one PDF per epoch and joins them with
    ``qpdf``). The suite records which files appeared and how many points each plot holds."""
    from matplotlib import pyplot as plt

    (train_images, train_labels), (val_images, val_labels), _ = mnist_splits(run)
    model = get_mnist_model()
    model.compile(optimizer="rmsprop",
                  loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    with tempfile.TemporaryDirectory() as folder:
        loss_history = LossHistory(folder)
        history = model.fit(train_images, train_labels,
                            epochs=run.epochs(10),
                            callbacks=[loss_history],
                            validation_data=(val_images, val_labels))
        plt.close("all")
        files = sorted(Path(folder).iterdir())
        run.value("plot_files", [p.name for p in files])
        run.value("png_files", sum(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in files))
    run.history("fit", history)
    run.value("epochs_run", len(history.history["loss"]))
    run.value("batches_per_epoch", math.ceil(len(train_images) / 32))
    run.value("points_per_plot_min", min(loss_history.points_per_plot))
    run.value("points_per_plot_max", max(loss_history.points_per_plot))


# 7.3.4 Monitoring and visualisation with TensorBoard ------------------------------------------
def read_tensorboard_scalars(log_dir: Path) -> dict[str, dict[str, list[float]]]:
    """Every scalar in the event files under ``log_dir`` (``train/``, ``validation/``), read with
    TensorBoard's own event reader: ``{run: {tag: values by step}}`` and the steps under
    ``{run: {tag + "@steps": steps}}``. Keras writes its scalars as tensor summaries."""
    from tensorboard.backend.event_processing import event_accumulator
    from tensorboard.util import tensor_util

    found: dict[str, dict[str, list[float]]] = {}
    for run_dir in sorted(p for p in log_dir.iterdir() if p.is_dir()):
        accumulator = event_accumulator.EventAccumulator(str(run_dir), size_guidance={"tensors": 0, "scalars": 0})
        accumulator.Reload()
        tags = accumulator.Tags()
        series: dict[str, list[float]] = {}
        for tag in tags.get("scalars", []):
            events = accumulator.Scalars(tag)
            series[tag] = [float(e.value) for e in events]
            series[tag + "@steps"] = [int(e.step) for e in events]
        for tag in tags.get("tensors", []):
            events = accumulator.Tensors(tag)
            arrays = [tensor_util.make_ndarray(e.tensor_proto) for e in events]
            if not all(a.shape == () and a.dtype.kind == "f" for a in arrays):
                continue  # the model's configuration, written as a string tensor
            series[tag] = [float(a) for a in arrays]
            series[tag + "@steps"] = [int(e.step) for e in events]
        found[run_dir.name] = series
    return found


@example("ch07_tensorboard", section="7.3.4", title="Monitoring and visualization with TensorBoard",
         datasets=("mnist",))
def tensorboard_logs(run: Run) -> None:
    """The book launches TensorBoard to look at the logs; the suite reads the event files back with
    TensorBoard's own event reader instead and compares them with the fit's history. Writing
    needs TensorFlow's summary ops (any Keras backend, TensorFlow installed); reading needs the
    ``tensorboard`` package, an optional dependency (``pip install '.[tensorboard]'``): without
    it the example is skipped."""
    if importlib.util.find_spec("tensorboard") is None:
        raise PackageUnavailable("reading the TensorBoard event files needs the package 'tensorboard' "
                                 "(pip install '.[tensorboard]')")
    (train_images, train_labels), (val_images, val_labels), _ = mnist_splits(run)
    model = get_mnist_model()
    model.compile(optimizer="rmsprop",
                  loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    with tempfile.TemporaryDirectory() as log_dir:
        tensorboard = keras.callbacks.TensorBoard(
            log_dir=log_dir,
        )
        history = model.fit(train_images, train_labels,
                            epochs=run.epochs(10),
                            validation_data=(val_images, val_labels),
                            callbacks=[tensorboard])
        scalars = read_tensorboard_scalars(Path(log_dir))
    run.history("fit", history)
    logs = history.history
    epochs_run = len(logs["loss"])
    run.value("epochs_run", epochs_run)
    expected = {("train", "epoch_loss"): "loss", ("train", "epoch_accuracy"): "accuracy",
                ("validation", "epoch_loss"): "val_loss", ("validation", "epoch_accuracy"): "val_accuracy"}
    run.value("tensorboard_tags", {name: sorted(t for t in tags if not t.endswith("@steps"))
                                   for name, tags in scalars.items()})
    counts, differences, steps_match = [], [], True
    for (run_name, tag), key in expected.items():
        values = scalars.get(run_name, {}).get(tag, [])
        counts.append(len(values))
        steps_match &= scalars.get(run_name, {}).get(tag + "@steps", []) == list(range(epochs_run))
        if len(values) == epochs_run:
            differences.append(max(abs(a - b) for a, b in zip(values, logs[key])))
    run.value("logged_epochs_min", min(counts))
    run.value("logged_epochs_max", max(counts))
    run.value("logged_steps_are_epochs", steps_match)
    run.value("logged_vs_history_max_abs_diff", max(differences) if len(differences) == len(expected) else None)


# 7.4.2 Low-level usage of metrics -------------------------------------------------------------
@example("ch07_low_level_metrics", section="7.4.2", title="Low-level usage of metrics")
def low_level_metrics(run: Run) -> None:
    metric = keras.metrics.SparseCategoricalAccuracy()
    targets = [0, 1, 2]
    predictions = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    metric.update_state(targets, predictions)
    current_result = metric.result()
    run.value("accuracy_result", current_result)
    run.value("accuracy_printed", f"result: {float(current_result):.2f}")

    values = [0, 1, 2, 3, 4]
    mean_tracker = keras.metrics.Mean()
    for value in values:
        mean_tracker.update_state(value)
    run.value("mean_result", mean_tracker.result())
    run.value("mean_printed", f"Mean of values: {float(mean_tracker.result()):.2f}")

    metric.reset_state()
    run.value("accuracy_after_reset", metric.result())


# 7.4.3 A complete training and evaluation loop --------------------------------------------------
class CustomLoop:
    """The §7.4.3 training and evaluation steps, with the model, loss, optimizer and metrics the
    listing keeps in globals (the R edition's globals too) held by one object."""

    def __init__(self, model: keras.Model):
        self.model = model
        self.loss_fn = keras.losses.SparseCategoricalCrossentropy()
        self.optimizer = keras.optimizers.RMSprop()
        self.metrics = [keras.metrics.SparseCategoricalAccuracy()]
        self.loss_tracking_metric = keras.metrics.Mean()

    def train_step(self, inputs, targets):
        model, loss_fn, optimizer = self.model, self.loss_fn, self.optimizer
        with tf.GradientTape() as tape:
            predictions = model(inputs, training=True)
            loss = loss_fn(targets, predictions)
        gradients = tape.gradient(loss, model.trainable_weights)
        optimizer.apply_gradients(zip(gradients, model.trainable_weights))

        logs = {}
        for metric in self.metrics:
            metric.update_state(targets, predictions)
            logs[metric.name] = metric.result()

        self.loss_tracking_metric.update_state(loss)
        logs["loss"] = self.loss_tracking_metric.result()
        return logs

    def reset_metrics(self):
        for metric in self.metrics:
            metric.reset_state()
        self.loss_tracking_metric.reset_state()

    def test_step(self, inputs, targets):
        predictions = self.model(inputs, training=False)
        loss = self.loss_fn(targets, predictions)

        logs = {}
        for metric in self.metrics:
            metric.update_state(targets, predictions)
            logs["val_" + metric.name] = metric.result()

        self.loss_tracking_metric.update_state(loss)
        logs["val_loss"] = self.loss_tracking_metric.result()
        return logs

    def fit(self, train_images, train_labels, epochs: int) -> dict[str, list[float]]:
        """The listing's epoch loop; returns each epoch's final logs (the book prints them)."""
        training_dataset = tf.data.Dataset.from_tensor_slices((train_images, train_labels))
        training_dataset = training_dataset.batch(32)
        history: dict[str, list[float]] = {}
        for epoch in range(epochs):
            self.reset_metrics()
            for inputs_batch, targets_batch in training_dataset:
                logs = self.train_step(inputs_batch, targets_batch)
            for key, value in logs.items():
                history.setdefault(key, []).append(float(value))
        return history

    def evaluate(self, val_images, val_labels, step) -> dict[str, float]:
        val_dataset = tf.data.Dataset.from_tensor_slices((val_images, val_labels))
        val_dataset = val_dataset.batch(32)
        self.reset_metrics()
        for inputs_batch, targets_batch in val_dataset:
            logs = step(inputs_batch, targets_batch)
        return {key: float(value) for key, value in logs.items()}


def keras_evaluation(model: keras.Model, val_images, val_labels) -> dict[str, float]:
    """What Keras's own ``evaluate`` reports for the same weights (not in the listing)."""
    model.compile(loss="sparse_categorical_crossentropy", metrics=["sparse_categorical_accuracy"])
    return model.evaluate(val_images, val_labels, return_dict=True)


@example("ch07_custom_training_loop", section="7.4.3", title="A complete training and evaluation loop",
         datasets=("mnist",), backends=("tensorflow",))
def custom_training_loop(run: Run) -> None:
    """Python's loop: every epoch runs over the whole training set. The R edition's loop calls
    ``iter_next()`` once per epoch, so it trains on one batch of 32 per "epoch" (three batches in
    all), and its epoch results do not look like these. Not in the listing: the hand-written
    evaluation is compared with Keras's ``evaluate`` on the same weights: the same accuracy, and a
    loss that differs only by how a short last batch is weighted."""
    (train_images, train_labels), (val_images, val_labels), _ = mnist_splits(run)
    loop = CustomLoop(get_mnist_model())
    run.history("training", loop.fit(train_images, train_labels, epochs=run.epochs(3)))
    logs = loop.evaluate(val_images, val_labels, loop.test_step)
    run.value("evaluation", logs)
    reference = keras_evaluation(loop.model, val_images, val_labels)
    run.value("keras_evaluate", reference)
    run.value("loop_vs_evaluate_acc_diff",
              abs(logs["val_sparse_categorical_accuracy"] - reference["sparse_categorical_accuracy"]))
    # The loop's loss is the mean of the batch means (``Mean`` counts each batch once, a short last
    # batch too), where ``evaluate`` weights each batch by its size: they agree only to a tolerance.
    run.value("loop_vs_evaluate_loss_diff", abs(logs["val_loss"] - reference["loss"]))


# 7.4.4 Make it fast with tf.function ---------------------------------------------------------------
@example("ch07_tf_function_eval", section="7.4.4", title="Compiling the evaluation step with tf.function",
         datasets=("mnist",), backends=("tensorflow",))
def tf_function_eval(run: Run) -> None:
    """The §7.4.3 model is trained with the custom loop, then evaluated eagerly, with
    ``tf.function(test_step)`` (Python) and with a compiled loop over the whole dataset (the R
    edition's ``my_evaluate``). The three must report the same metrics. The timings are recorded
    and not checked: they depend on the machine."""
    (train_images, train_labels), (val_images, val_labels), _ = mnist_splits(run)
    loop = CustomLoop(get_mnist_model())
    run.history("training", loop.fit(train_images, train_labels, epochs=run.epochs(3)))

    started = time.perf_counter()
    eager = loop.evaluate(val_images, val_labels, loop.test_step)
    run.value("eager_seconds", time.perf_counter() - started)

    test_step = tf.function(loop.test_step)
    started = time.perf_counter()
    compiled = loop.evaluate(val_images, val_labels, test_step)
    run.value("compiled_seconds", time.perf_counter() - started)

    @tf.function
    def my_evaluate(dataset):
        logs = {"val_sparse_categorical_accuracy": 0., "val_loss": 0.}  # autograph: defined before the loop
        for inputs_batch, targets_batch in dataset:
            logs = loop.test_step(inputs_batch, targets_batch)
        return logs

    loop.reset_metrics()
    started = time.perf_counter()
    whole = my_evaluate(tf.data.Dataset.from_tensor_slices((val_images, val_labels)).batch(32))
    whole = {key: float(value) for key, value in whole.items()}
    run.value("compiled_loop_seconds", time.perf_counter() - started)

    run.value("eager", eager)
    run.value("compiled", compiled)
    run.value("compiled_loop", whole)
    run.value("eager_vs_compiled_max_abs_diff",
              max(abs(eager[key] - other[key]) for other in (compiled, whole) for key in eager))


# 7.4.5 Leveraging fit() with a custom training loop ---------------------------------------------
class CustomModel(keras.Model):
    """The first form. Deviations: the listing keeps the loss function and the loss tracker in
    globals; here the model creates them, so that a second run in the same process starts from a
    fresh tracker. The tracker is listed in ``metrics`` so that ``fit`` resets it at the start of
    each epoch. The listing's step also reads the globals ``model`` and ``optimizer``
    (``tape.gradient(loss, model.trainable_weights)``, ``optimizer.apply_gradients(...)``), so it
    steps the optimizer left over from §7.4.3 rather than the one given to ``compile``; here it
    uses ``self.trainable_weights`` and ``self.optimizer``, as ``compile`` intends."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_fn = keras.losses.SparseCategoricalCrossentropy()
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def train_step(self, data):
        inputs, targets = data
        with tf.GradientTape() as tape:
            predictions = self(inputs, training=True)
            loss = self.loss_fn(targets, predictions)
        gradients = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))

        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    @property
    def metrics(self):
        return [self.loss_tracker]


class CompiledLossModel(keras.Model):
    """The second form, with the loss and metrics given to ``compile``. Deviation: the listing's
    ``self.compiled_loss`` and ``self.compiled_metrics`` are Keras 2 APIs. Keras 3 keeps them as
    deprecated shims, and its ``compiled_metrics`` shim updates every ``Mean`` metric (the loss
    tracker among them) with the predictions, so the "loss" that ``fit`` reports would be the
    mean predicted probability (0.1 for ten classes). The step uses Keras 3's replacements,
    ``compute_loss`` and the model's ``metrics``, as Keras's own guide does, and, like the first
    form, the model's own weights and optimizer where the listing reads the globals."""

    def train_step(self, data):
        inputs, targets = data
        with tf.GradientTape() as tape:
            predictions = self(inputs, training=True)
            loss = self.compute_loss(y=targets, y_pred=predictions)
        gradients = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(targets, predictions)
        return {m.name: m.result() for m in self.metrics}


def mnist_model_of(cls: type[keras.Model]) -> keras.Model:
    inputs = keras.Input(shape=(28 * 28,))
    features = layers.Dense(512, activation="relu")(inputs)
    features = layers.Dropout(0.5)(features)
    outputs = layers.Dense(10, activation="softmax")(features)
    return cls(inputs, outputs)


@example("ch07_custom_train_step_fit", section="7.4.5", title="A custom train_step used by fit()",
         datasets=("mnist",), backends=("tensorflow",))
def custom_train_step_fit(run: Run) -> None:
    """Both forms of the listing, each fitted for the book's 3 epochs (the deviations are in the
    two classes' docstrings). Not in the listing: both models are scored on the held-out
    validation images."""
    (train_images, train_labels), (val_images, val_labels), _ = mnist_splits(run)

    model = mnist_model_of(CustomModel)
    model.compile(optimizer=keras.optimizers.RMSprop())
    history = model.fit(train_images, train_labels, epochs=run.epochs(3))
    run.history("custom_loss", history)
    run.value("custom_loss_val_acc", np.mean(np.argmax(model.predict(val_images), axis=1) == val_labels))
    run.model("model", model)

    model = mnist_model_of(CompiledLossModel)
    model.compile(optimizer=keras.optimizers.RMSprop(),
                  loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=[keras.metrics.SparseCategoricalAccuracy()])
    history = model.fit(train_images, train_labels, epochs=run.epochs(3))
    run.history("compiled_loss", history)
    run.value("compiled_loss_val_acc", np.mean(np.argmax(model.predict(val_images), axis=1) == val_labels))
    val_loss, val_acc = model.evaluate(val_images, val_labels)
    run.value("compiled_loss_evaluate_acc", val_acc)
