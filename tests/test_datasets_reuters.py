"""The Reuters loader reads the real reuters.npz and word index through the checked cache
and encodes them as Keras does; the twin keeps Keras's layout and Reuters' topic skew."""

import hashlib
import json

import numpy as np
import pytest

from helpers import object_array
from reference_impl.api import DatasetUnavailable
from reference_impl.datasets import cache, load, reuters

# Raw ranks as reuters.npz stores them: all newswires in one array, split after shuffling.
RAW = [[1, 2, 3], [4, 9996, 5, 6], [7, 8], [9, 10, 11, 12, 13], [14]]
TOPICS = [3, 4, 3, 19, 45]


@pytest.fixture
def reuters_files(offline_data_home, monkeypatch):
    npz = offline_data_home / "reuters.npz"
    np.savez(npz, x=object_array(RAW), y=np.array(TOPICS))
    index = offline_data_home / "reuters_word_index.json"
    index.write_text(json.dumps({"the": 1, "of": 2, "to": 3, "said": 4, "and": 5}))
    monkeypatch.setattr(reuters, "REUTERS_NPZ", cache.RemoteFile(
        "reuters.npz", reuters.REUTERS_NPZ.url, hashlib.sha256(npz.read_bytes()).hexdigest()))
    monkeypatch.setattr(reuters, "REUTERS_WORD_INDEX", cache.RemoteFile(
        "reuters_word_index.json", reuters.REUTERS_WORD_INDEX.url, md5=hashlib.md5(index.read_bytes()).hexdigest()))
    return npz, index


def test_real_loader_shuffles_marks_limits_and_splits_like_keras(reuters_files):
    (x, y), (xt, yt) = reuters.real(num_words=10000).value
    order = np.arange(5)
    np.random.RandomState(113).shuffle(order)
    expected = [[1] + [w + 3 if w + 3 < 10000 else 2 for w in RAW[i]] for i in order]
    assert len(x) == int(5 * 0.8) == 4 and len(xt) == 1  # Keras's int(n * (1 - test_split))
    assert x.dtype == object and x.tolist() + xt.tolist() == expected
    assert y.tolist() + yt.tolist() == [TOPICS[i] for i in order]


def test_real_loader_test_split_and_maxlen(reuters_files):
    (x, _), (xt, _) = reuters.real(test_split=0.5, maxlen=4).value
    assert len(x) + len(xt) == 2  # only [7, 8] and [14] are shorter than 4 with their start mark
    assert len(x) == 1


def test_word_index_is_checked_by_md5_and_decodes(reuters_files):
    _, index_path = reuters_files
    reverse = {rank: word for word, rank in reuters.real(word_index=True).value.items()}
    assert " ".join(reverse.get(i - 3, "?") for i in [1, 4, 7, 8]) == "? the said and"
    index_path.write_text("{}")
    with pytest.raises(cache.CorruptDataset, match="MD5 is .* expected"):
        reuters.real(word_index=True)


def test_checksum_mismatch_and_corrupt_npz_are_errors(reuters_files, tmp_path):
    npz, _ = reuters_files
    npz.write_bytes(npz.read_bytes()[:-10])
    with pytest.raises(cache.CorruptDataset, match="SHA-256 is .* expected"):
        reuters.real()
    with pytest.raises(cache.CorruptDataset, match="not a readable reuters.npz"):
        reuters.read_sequence_npz(npz, ("x", "y"))


def test_missing_files_offline_say_what_to_fetch(offline_data_home):
    with pytest.raises(DatasetUnavailable, match=reuters.REUTERS_NPZ.sha256):
        load("reuters", tier="book", seed=0)
    with pytest.raises(DatasetUnavailable, match="no offline source"):
        load("reuters", tier="offline", seed=0)


def test_real_topic_counts_are_the_published_training_set():
    assert len(reuters.TRAIN_TOPIC_COUNTS) == 46 and sum(reuters.TRAIN_TOPIC_COUNTS) == 8982


def test_twin_layout_conventions_and_determinism():
    (x, y), (xt, yt) = reuters.twin(seed=1, samples=0.1, num_words=10000).value
    assert len(x) == int(1123 * 0.8) and len(x) + len(xt) == 1123
    assert x.dtype == object and isinstance(x[0], list) and all(s[0] == 1 for s in x)
    assert max(max(s) for s in x) < 10000 and 2 in {w for s in x for w in s}
    assert set(y.tolist()) == set(range(46)) == set(yt.tolist())  # to_categorical sees all 46 topics
    (x2, y2), _ = reuters.twin(seed=1, samples=0.1, num_words=10000).value
    (x3, _), _ = reuters.twin(seed=2, samples=0.1, num_words=10000).value
    assert x.tolist() == x2.tolist() and y.tolist() == y2.tolist() and x.tolist() != x3.tolist()


def test_twin_topics_are_skewed_like_the_real_set():
    (_, y), _ = reuters.twin(seed=0, samples=0.5).value
    shares = np.bincount(y, minlength=46) / len(y)
    assert shares.argsort()[-2:].tolist() == [4, 3]  # "earn" and "acq" dominate
    assert 0.5 < shares[3] + shares[4] < 0.65
    assert 0.15 < (shares ** 2).sum() < 0.22  # the random baseline the book quotes (~19%)


def test_twin_lengths_and_vocabulary_look_like_reuters():
    (x, _), _ = reuters.twin(seed=0, samples=0.2).value
    lengths = np.array([len(s) for s in x])
    assert 80 < np.median(lengths) < 110 and 120 < lengths.mean() < 170
    index = reuters.twin(word_index=True).value
    assert len(index) == reuters.VOCABULARY_SIZE and sorted(index.values()) == list(range(1, reuters.VOCABULARY_SIZE + 1))


def test_twin_topic_words_carry_the_topic():
    """A nearest-centroid guess on topic words alone beats the commonest-topic guess by far."""
    (x, y), (xt, yt) = reuters.twin(seed=0, samples=0.3, num_words=10000).value
    def bag(sequences):
        counts = np.zeros((len(sequences), 10000))
        for i, s in enumerate(sequences):
            np.add.at(counts[i], s, 1)
        return counts / counts.sum(axis=1, keepdims=True)
    train, test = bag(x), bag(xt)
    centroids = np.stack([train[y == t].mean(axis=0) for t in range(46)])
    guess = (test @ centroids.T / np.linalg.norm(centroids, axis=1)).argmax(axis=1)
    assert (guess == yt).mean() > (yt == 3).mean() + 0.2
