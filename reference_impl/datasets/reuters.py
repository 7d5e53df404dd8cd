"""Reuters newswires in the layout of ``keras.datasets.reuters.load_data()``:
``((x_train, y_train), (x_test, y_test))``, each ``x`` an object array of lists of
word indices, each ``y`` an array of topic numbers 0–45; 8,982 / 2,246 newswires.

Options are Keras's, applied as Keras applies them: ``num_words``, ``skip_top``,
``maxlen``, ``test_split`` (0.2), ``seed`` (113), ``start_char`` (1), ``oov_char`` (2),
``index_from`` (3). ``word_index=True`` returns the word index of
``keras.datasets.reuters.get_word_index()`` (word → frequency rank; a sequence holds
``rank + index_from``).

Sources:

* ``real`` — the book's ``reuters.npz`` (SHA-256 from Keras) and
  ``reuters_word_index.json``, which Keras checks by MD5 only, so it is checked by that
  MD5, as Keras does.
* ``twin`` — synthetic newswires with Reuters' statistics (see :func:`twin`).
* no ``offline`` source: no package ships Keras's 46-topic set. Debian's ``r-cran-tm``
  has 70 genuine Reuters-21578 articles in 2 topics — another task (binary), needing
  apt and a word index of its own — so examples on Reuters have no offline tier.
"""

from __future__ import annotations

import numpy as np

from reference_impl.datasets import Loaded, provenance
from reference_impl.datasets.cache import RemoteFile, fetch
from reference_impl.datasets.imdb import (
    KERAS_ORIGIN,
    Sequences,
    Split,
    limited,
    marked,
    object_array,
    read_sequence_npz,
    read_word_index,
    shuffled,
    without_long,
)

REUTERS_NPZ = RemoteFile(
    name="reuters.npz",
    url=f"{KERAS_ORIGIN}reuters.npz",
    sha256="d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916",
)
REUTERS_WORD_INDEX = RemoteFile(  # Keras publishes only an MD5 for the word index
    name="reuters_word_index.json",
    url=f"{KERAS_ORIGIN}reuters_word_index.json",
    md5="4d44cc38712099c9e383dc6e5f11a921",
)
TOTAL_SIZE = 11_228
VOCABULARY_SIZE = 30_979  # words in the real reuters_word_index.json
TOPICS = 46
# Topic counts of the real training set (np.unique(y_train) of load_data(), as many
# public notebooks print it): "earn" (3) and "acq" (4) are 57 % of the newswires.
TRAIN_TOPIC_COUNTS = (
    55, 432, 74, 3159, 1949, 17, 48, 16, 139, 101, 124, 390, 49, 172, 26, 20, 444, 39, 66, 549, 269, 100, 15,
    41, 62, 92, 24, 15, 48, 19, 45, 39, 32, 11, 50, 10, 49, 19, 19, 24, 36, 30, 13, 21, 12, 18,
)


# -- real: the book's files ----------------------------------------------------
def real(
    num_words: int | None = None,
    skip_top: int = 0,
    maxlen: int | None = None,
    test_split: float = 0.2,
    seed: int = 113,
    start_char: int | None = 1,
    oov_char: int | None = 2,
    index_from: int = 3,
    word_index: bool = False,
) -> Loaded:
    if word_index:
        index = read_word_index(fetch(REUTERS_WORD_INDEX))
        return Loaded(index, provenance("real", "genuine", "Reuters word index, keras reuters_word_index.json",
                                        words=len(index)))
    arrays = read_sequence_npz(fetch(REUTERS_NPZ), ("x", "y"))
    split = encode(arrays["x"], arrays["y"], test_split=test_split, seed=seed, num_words=num_words,
                   skip_top=skip_top, maxlen=maxlen, start_char=start_char, oov_char=oov_char,
                   index_from=index_from)
    return Loaded(split, provenance("real", "genuine", "Reuters newswires, keras reuters.npz",
                                    train=len(split[0][0]), test=len(split[1][0])))


def encode(x: Sequences, y: np.ndarray, *, test_split: float, seed: int, num_words: int | None, skip_top: int,
           maxlen: int | None, start_char: int | None, oov_char: int | None, index_from: int) -> Split:
    """Raw rank sequences as ``keras.datasets.reuters.load_data`` returns them: shuffled
    together, marked, filtered by ``maxlen``, limited to the vocabulary, then split."""
    x, y = shuffled(x, np.asarray(y), np.random.RandomState(seed))
    xs, labels = without_long(maxlen, marked(x, start_char, index_from), y)
    xs = limited(xs, num_words, skip_top, oov_char)
    n_train = int(len(xs) * (1 - test_split))
    return (object_array(xs[:n_train]), labels[:n_train]), (object_array(xs[n_train:]), labels[n_train:])


# -- twin: synthetic newswires with Reuters' statistics ------------------------
MEDIAN_LENGTH = 95  # indices with the start mark; the real train set: mean 145.5, longest 2,376
FAMILIES = 8  # groups of topics that share vocabulary (grain/wheat/corn, money-fx/interest/dlr …)
WORDS_PER_TOPIC = 40
FAMILY_WORDS = 80
DENSITY = (0.1, 0.3)  # share of a newswire's words that are topic words
CONFUSION = 0.2  # mean share of topic words from another, confusable topic


def twin_word_index() -> dict[str, int]:
    """``t<topic>_…`` words belong to one topic, ``f<family>_…`` to a family of topics,
    ``w<rank>`` to none."""
    topic_words, family_words = _vocabulary()
    words = {rank: f"w{rank}" for rank in range(1, VOCABULARY_SIZE + 1)}
    for topic, ranks in enumerate(topic_words):
        words.update({int(r): f"t{topic}_{r}" for r in ranks})
    for family, ranks in enumerate(family_words):
        words.update({int(r): f"f{family}_{r}" for r in ranks})
    return {word: rank for rank, word in words.items()}


def _vocabulary() -> tuple[np.ndarray, np.ndarray]:
    """Fixed for every seed: each topic's own words and each family's shared words,
    spread over ranks 30–9,000 (inside the book's 10,000 words)."""
    rng = np.random.RandomState(46)
    ranks = rng.choice(np.arange(30, 9_000), size=TOPICS * WORDS_PER_TOPIC + FAMILIES * FAMILY_WORDS, replace=False)
    topic_words = ranks[: TOPICS * WORDS_PER_TOPIC].reshape(TOPICS, WORDS_PER_TOPIC)
    family_words = ranks[TOPICS * WORDS_PER_TOPIC:].reshape(FAMILIES, FAMILY_WORDS)
    return topic_words, family_words


def topic_family(topic: np.ndarray | int) -> np.ndarray | int:
    return np.asarray(topic) % FAMILIES


def twin(
    seed: int = 0,
    samples: float = 1.0,
    num_words: int | None = None,
    skip_top: int = 0,
    maxlen: int | None = None,
    test_split: float = 0.2,
    start_char: int | None = 1,
    oov_char: int | None = 2,
    index_from: int = 3,
    word_index: bool = False,
) -> Loaded:
    """Newswires over Reuters' 30,979-word vocabulary, Zipf-distributed, with log-normal
    lengths (median ≈ 95, mean ≈ 145 indices) and the real topic frequencies (two
    topics hold 57 % of the wires; every topic appears in both splits). A wire's topic
    shows in its topic words — its own topic's, its family's (shared with related
    topics) and some of one confusable topic's — so a model has to separate
    overlapping vocabularies, and the rare topics are hard, as in the real set."""
    if word_index:
        index = twin_word_index()
        return Loaded(index, provenance("twin", "synthetic", "Reuters twin word index", words=len(index)))
    rng = np.random.RandomState(seed)
    n_total = max(4 * TOPICS, round(TOTAL_SIZE * samples))
    n_train = int(n_total * (1 - test_split))
    frequencies = np.array(TRAIN_TOPIC_COUNTS) / sum(TRAIN_TOPIC_COUNTS)
    pieces = []
    for n in (n_train, n_total - n_train):
        labels = np.concatenate([np.arange(TOPICS), rng.choice(TOPICS, size=n - TOPICS, p=frequencies)])
        rng.shuffle(labels)
        pieces.append((_newswires(labels, frequencies, rng), labels))
    (x_train, y_train), (x_test, y_test) = pieces
    xs_train, y_train = without_long(maxlen, marked(x_train, start_char, index_from), y_train)
    xs_test, y_test = without_long(maxlen, marked(x_test, start_char, index_from), y_test)
    xs = limited(xs_train + xs_test, num_words, skip_top, oov_char)
    split = (object_array(xs[:len(xs_train)]), y_train), (object_array(xs[len(xs_train):]), y_test)
    return Loaded(split, provenance("twin", "synthetic", "Reuters twin: 46 skewed topics, overlapping vocabularies",
                                    train=len(xs_train), test=len(xs_test), seed=seed))


def _newswires(labels: np.ndarray, frequencies: np.ndarray, rng: np.random.RandomState) -> Sequences:
    n = len(labels)
    lengths = np.clip(np.rint(rng.lognormal(np.log(MEDIAN_LENGTH - 1), 0.9, size=n)), 12, 2_375).astype(int)
    ranks = np.arange(1, VOCABULARY_SIZE + 1)
    zipf = 1.0 / (ranks + 2.7) ** 1.05
    words = rng.choice(ranks, size=int(lengths.sum()), p=zipf / zipf.sum())
    owner = np.repeat(np.arange(n), lengths)
    topic_words, family_words = _vocabulary()
    confuser = rng.choice(TOPICS, size=n, p=frequencies)  # wires get confused with common topics most
    confusion = rng.beta(1.0, (1 - CONFUSION) / CONFUSION, size=n)
    is_topical = rng.rand(len(words)) < rng.uniform(*DENSITY, size=n)[owner]
    topic = np.where(rng.rand(len(words)) < confusion[owner], confuser[owner], labels[owner])
    from_family = rng.rand(len(words)) < 0.3
    topical = np.where(from_family,
                       family_words[topic_family(topic), rng.randint(FAMILY_WORDS, size=len(words))],
                       topic_words[topic, rng.randint(WORDS_PER_TOPIC, size=len(words))])
    words = np.where(is_topical, topical, words)
    return object_array([w.tolist() for w in np.split(words, np.cumsum(lengths)[:-1])])
