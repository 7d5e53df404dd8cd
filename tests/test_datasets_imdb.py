"""The IMDB loader reads the real imdb.npz and word index through the checked cache and
encodes them exactly as Keras does; the twin keeps Keras's conventions and carries signal."""

import hashlib
import json

import numpy as np
import pytest

from helpers import object_array
from reference_impl.api import DatasetUnavailable
from reference_impl.datasets import cache, imdb, load

# Raw ranks as imdb.npz stores them (1 = most frequent word), two reviews per split.
RAW_TRAIN = [[1, 14, 22, 9999, 5], [7, 8, 1, 2]]
RAW_TEST = [[3, 4, 10000, 5], [12, 1]]
WORD_INDEX = {"the": 1, "and": 2, "a": 3, "of": 4, "to": 5, "is": 7, "br": 8, "film": 14, "movie": 22, "it": 12}


@pytest.fixture
def imdb_files(offline_data_home, monkeypatch):
    """imdb.npz (ragged object arrays, int labels) and imdb_word_index.json in the real
    layout, registered under their own SHA-256 / MD5."""
    npz = offline_data_home / "imdb.npz"
    np.savez(npz, x_train=object_array(RAW_TRAIN), y_train=np.array([1, 0]),
             x_test=object_array(RAW_TEST), y_test=np.array([0, 1]))
    index = offline_data_home / "imdb_word_index.json"
    index.write_text(json.dumps(WORD_INDEX))
    monkeypatch.setattr(imdb, "IMDB_NPZ", cache.RemoteFile("imdb.npz", imdb.IMDB_NPZ.url,
                                                           hashlib.sha256(npz.read_bytes()).hexdigest()))
    monkeypatch.setattr(imdb, "IMDB_WORD_INDEX", cache.RemoteFile(
        "imdb_word_index.json", imdb.IMDB_WORD_INDEX.url, md5=hashlib.md5(index.read_bytes()).hexdigest()))
    return npz, index


def keras_order(n, seed=113):
    """The order Keras's shuffle puts n items in (one generator for train, then test)."""
    rng = np.random.RandomState(seed)
    first = np.arange(n)
    rng.shuffle(first)
    second = np.arange(n)
    rng.shuffle(second)
    return first, second


def test_real_loader_encodes_like_keras(imdb_files):
    (x, y), (xt, yt) = imdb.real(num_words=10000).value
    assert x.dtype == object and isinstance(x[0], list)
    train_order, test_order = keras_order(2)
    expected_train = [[1] + [w + 3 if w + 3 < 10000 else 2 for w in RAW_TRAIN[i]] for i in train_order]
    expected_test = [[1] + [w + 3 if w + 3 < 10000 else 2 for w in RAW_TEST[i]] for i in test_order]
    assert x.tolist() == expected_train and xt.tolist() == expected_test
    assert y.tolist() == [[1, 0][i] for i in train_order] and yt.tolist() == [[0, 1][i] for i in test_order]
    assert max(max(s) for s in x) <= 9999  # rank 9999 + 3 became the OOV mark 2


def test_real_loader_options_skip_top_maxlen_and_no_start(imdb_files):
    (x, _), (xt, _) = imdb.real(num_words=12, skip_top=5, maxlen=5, start_char=None, oov_char=None).value
    # maxlen keeps sequences shorter than 5 (after the shift by 3); with oov_char=None,
    # skip_top/num_words drop the indices outside [5, 12)
    assert sorted(map(tuple, x.tolist())) == [(10, 11, 5)]
    assert sorted(map(tuple, xt.tolist())) == [(), (6, 7, 8)]


def test_word_index_decodes_with_the_books_offset(imdb_files):
    index = imdb.real(word_index=True).value
    reverse = {value: key for key, value in index.items()}
    assert " ".join(reverse.get(i - 3, "?") for i in [1, 17, 25, 4]) == "? film movie the"


def test_checksum_mismatch_is_an_error(imdb_files):
    npz, index = imdb_files
    npz.write_bytes(npz.read_bytes() + b"tampered")
    with pytest.raises(cache.CorruptDataset, match="SHA-256 is .* expected"):
        imdb.real()
    index.write_text(index.read_text() + " ")
    with pytest.raises(cache.CorruptDataset, match="MD5 is .* expected"):
        imdb.real(word_index=True)


def test_corrupt_files_are_reported_as_corrupt(tmp_path):
    npz = tmp_path / "imdb.npz"
    npz.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(cache.CorruptDataset, match="not a readable imdb.npz"):
        imdb.read_sequence_npz(npz, ("x_train",))
    index = tmp_path / "imdb_word_index.json"
    index.write_text('{"the": 1, "and"')
    with pytest.raises(cache.CorruptDataset, match="not a readable word index"):
        imdb.read_word_index(index)


def test_npz_smuggling_code_through_pickle_is_refused(tmp_path):
    class Gadget:
        def __reduce__(self):
            return (print, ("pwned",))

    npz = tmp_path / "imdb.npz"
    np.savez(npz, x_train=np.array([Gadget()], dtype=object))
    with pytest.raises(cache.CorruptDataset, match="refusing to load builtins.print"):
        imdb.read_sequence_npz(npz, ("x_train",))


def test_missing_files_offline_say_what_to_fetch(offline_data_home):
    with pytest.raises(DatasetUnavailable, match="imdb.npz"):
        load("imdb", tier="book", seed=0, num_words=10000)
    with pytest.raises(DatasetUnavailable, match=f"MD5 {imdb.IMDB_WORD_INDEX.md5}"):
        load("imdb", tier="book", seed=0, word_index=True)


def test_no_offline_source_because_no_package_ships_imdb():
    with pytest.raises(DatasetUnavailable, match="no offline source"):
        load("imdb", tier="offline", seed=0)


def test_twin_has_kerass_layout_and_vocabulary_conventions():
    (x, y), (xt, yt) = imdb.twin(seed=0, samples=0.01, num_words=10000).value
    assert x.shape == (250,) and xt.shape == (250,) and x.dtype == object and isinstance(x[0], list)
    assert all(s[0] == 1 for s in x) and 1 not in {w for s in x for w in s[1:]}  # start mark only first
    assert max(max(s) for s in x) < 10000 and min(min(s[1:]) for s in x) == 2  # OOV mark, no index 0
    assert sorted(set(y.tolist())) == [0, 1] and y.mean() == 0.5 and yt.mean() == 0.5
    lengths = [len(s) for s in x]
    assert 150 < np.median(lengths) < 200 and max(lengths) > 3 * np.median(lengths)
    (full, _), _ = imdb.twin(seed=0, samples=0.01).value
    assert max(max(s) for s in full) > 10000  # without num_words the whole vocabulary is there


def test_twin_is_deterministic_per_seed():
    (x1, y1), _ = imdb.twin(seed=3, samples=0.01).value
    (x2, y2), _ = imdb.twin(seed=3, samples=0.01).value
    (x3, _), _ = imdb.twin(seed=4, samples=0.01).value
    assert x1.tolist() == x2.tolist() and y1.tolist() == y2.tolist() and x1.tolist() != x3.tolist()


def test_twin_words_follow_zipf_and_the_word_index_decodes_them():
    (x, _), _ = imdb.twin(seed=0, samples=0.02).value
    counts = np.bincount(np.concatenate([s[1:] for s in x]))
    assert counts[4] > counts[13] > counts[103] > counts[1003]  # ranks 1, 10, 100, 1000 (+3)
    index = imdb.twin(word_index=True).value
    assert len(index) == imdb.VOCABULARY_SIZE and sorted(index.values()) == list(range(1, imdb.VOCABULARY_SIZE + 1))
    reverse = {rank: word for word, rank in index.items()}
    assert reverse[1] == "w1" and sum(w.startswith("pos") for w in index) == imdb.SENTIMENT_WORDS


def test_twin_labels_show_in_sentiment_words():
    (x, y), _ = imdb.twin(seed=0, samples=0.02).value
    index = imdb.twin(word_index=True).value
    positive = {rank + 3 for word, rank in index.items() if word.startswith("pos")}
    negative = {rank + 3 for word, rank in index.items() if word.startswith("neg")}
    leaning = np.array([sum(w in positive for w in s) - sum(w in negative for w in s) for s in x])
    agreement = np.mean((leaning > 0) == (y == 1))
    assert 0.8 < agreement < 0.95  # clear signal, yet not perfectly separable
