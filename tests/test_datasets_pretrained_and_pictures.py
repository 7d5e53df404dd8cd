"""keras.applications files come from Keras's cache, MD5-checked, never downloaded offline; the book's
single pictures come from the dataset cache and must decode; without them, honest stand-ins."""

import json

import numpy as np
import pytest
from PIL import Image

from reference_impl.api import DatasetUnavailable
from reference_impl.datasets import book_images, cache, keras_applications, load


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setenv("BOOK_DATA_OFFLINE", "1")
    (tmp_path / "models").mkdir()
    return tmp_path / "models"


@pytest.fixture
def class_index_file(keras_home, monkeypatch):
    name, url, _ = keras_applications.FILES["class_index"]
    path = keras_home / name
    path.write_text(json.dumps({"386": ["n02504458", "African_elephant"]}))
    monkeypatch.setitem(keras_applications.FILES, "class_index", (name, url, cache.digest_of(path, "md5")))
    return path


def test_cached_file_with_kerass_md5_is_handed_out(class_index_file):
    loaded = keras_applications.real("class_index")
    assert loaded.value["386"][1] == "African_elephant" and loaded.provenance["kind"] == "genuine"


@pytest.mark.parametrize("file", ["xception", "vgg16_notop", "efficientnetb0"])
def test_weights_are_handed_out_as_the_cached_path(keras_home, monkeypatch, file):
    name, url, _ = keras_applications.FILES[file]
    (keras_home / name).write_bytes(b"HDF5 stand-in")
    monkeypatch.setitem(keras_applications.FILES, file, (name, url, cache.digest_of(keras_home / name, "md5")))
    assert keras_applications.real(file).value == str(keras_home / name)


def test_md5_mismatch_is_an_error(class_index_file):
    class_index_file.write_text("{}")
    with pytest.raises(cache.CorruptDataset, match="MD5 is .* expected"):
        keras_applications.real("class_index")


def test_missing_weights_say_what_to_fetch_and_where(keras_home):
    with pytest.raises(DatasetUnavailable) as raised:
        load("keras_applications", tier="book", seed=0, file="xception_notop")
    name, url, md5 = keras_applications.FILES["xception_notop"]
    assert url in str(raised.value) and str(keras_home / name) in str(raised.value) and md5 in str(raised.value)


def test_without_weights_the_smoke_tier_builds_from_scratch():
    loaded = load("keras_applications", tier="smoke", seed=0, file="efficientnetb0")
    assert loaded.value is None and loaded.provenance["kind"] == "synthetic"
    index = load("keras_applications", tier="offline", seed=0, file="class_index").value
    assert len(index) == 1000 and index["386"][1] == "class_386"


def test_unknown_file_is_refused():
    with pytest.raises(KeyError, match="unknown keras.applications file"):
        keras_applications.twin(file="vgg17")


def test_cached_picture_is_handed_out(offline_data_home):
    Image.fromarray(np.zeros((20, 30, 3), dtype=np.uint8)).save(offline_data_home / "elephant.jpg")
    assert book_images.real("elephant.jpg").value == str(offline_data_home / "elephant.jpg")


def test_truncated_picture_is_corrupt(offline_data_home):
    Image.fromarray(np.zeros((20, 30, 3), dtype=np.uint8)).save(offline_data_home / "cat.jpg")
    (offline_data_home / "cat.jpg").write_bytes((offline_data_home / "cat.jpg").read_bytes()[:40])
    with pytest.raises(cache.CorruptDataset, match="not a readable image"):
        book_images.real("cat.jpg")


def test_missing_picture_says_what_to_fetch(offline_data_home):
    with pytest.raises(DatasetUnavailable, match="https://img-datasets.s3.amazonaws.com/cat.jpg"):
        load("book_images", tier="book", seed=0, fname="cat.jpg")


def test_stand_in_picture_is_deterministic_per_seed(offline_data_home):
    first = np.array(Image.open(book_images.twin(seed=1, fname="cat.jpg").value))
    again = np.array(Image.open(book_images.twin(seed=1, fname="cat.jpg").value))
    other = np.array(Image.open(book_images.twin(seed=2, fname="cat.jpg").value))
    assert first.shape == book_images.TWIN_SHAPE + (3,)
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    assert first.std() > 10  # a picture, not a flat field
