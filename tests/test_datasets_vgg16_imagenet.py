"""The VGG16 weights provision: the checked file from Keras's cache in the book tier, a clear skip
when it is missing offline, an error when it is damaged, and random initialisation elsewhere."""

import hashlib

import pytest

from reference_impl.api import DatasetUnavailable
from reference_impl.datasets import cache, load, vgg16_imagenet


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setenv("BOOK_DATA_OFFLINE", "1")
    return tmp_path


def test_missing_weights_offline_say_what_to_fetch_and_where(keras_home):
    with pytest.raises(DatasetUnavailable) as raised:
        load("vgg16_imagenet", tier="book", seed=0)
    message = str(raised.value)
    assert vgg16_imagenet.URL in message and str(keras_home / "models" / vgg16_imagenet.FILE_NAME) in message


def test_the_cached_file_is_handed_out_when_its_md5_matches(keras_home, monkeypatch):
    path = keras_home / "models" / vgg16_imagenet.FILE_NAME
    path.parent.mkdir()
    path.write_bytes(b"stand-in for the HDF5 weights")
    monkeypatch.setattr(vgg16_imagenet, "MD5", hashlib.md5(path.read_bytes()).hexdigest())
    loaded = load("vgg16_imagenet", tier="book", seed=0)
    assert loaded.value == str(path) and loaded.provenance["kind"] == "genuine"


def test_a_damaged_file_is_an_error(keras_home):
    path = keras_home / "models" / vgg16_imagenet.FILE_NAME
    path.parent.mkdir()
    path.write_bytes(b"truncated")
    with pytest.raises(cache.CorruptDataset, match="MD5 is .* expected 6d6bbae143d832006294945121d1f1fc"):
        vgg16_imagenet.real()


@pytest.mark.parametrize("tier", ["smoke", "offline"])
def test_without_the_book_tier_the_base_starts_from_random_weights(tier):
    loaded = load("vgg16_imagenet", tier=tier, seed=0)
    assert loaded.value is None and loaded.provenance["kind"] == "synthetic"
