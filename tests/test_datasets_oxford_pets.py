"""The Oxford pets loader reads the real images/ + annotations/trimaps/ layout the book's way;
broken files are errors; the twin and the offline substitute are deterministic, 3-class and learnable."""

import random
import tarfile

import numpy as np
import pytest
from PIL import Image

from reference_impl.api import DatasetUnavailable
from reference_impl.datasets import cache, load, oxford_pets

NAMES = ["Abyssinian_1", "Abyssinian_2", "beagle_1", "beagle_2", "pug_1", "pug_2"]


def write_pet(root, index, name):
    """Image ``index`` is one flat grey level (20 × index); its trimap is all foreground (1)
    for even indexes and all background (2) for odd ones, with a border (3) pixel."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "annotations" / "trimaps").mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((30, 40, 3), 20 * index, dtype=np.uint8)).save(root / "images" / f"{name}.jpg")
    trimap = np.full((30, 40), 1 if index % 2 == 0 else 2, dtype=np.uint8)
    trimap[:4, :4] = 3
    Image.fromarray(trimap, mode="L").save(root / "annotations" / "trimaps" / f"{name}.png")


@pytest.fixture
def book_cache(offline_data_home, monkeypatch):
    monkeypatch.setattr(oxford_pets, "EXPECTED_IMAGES", len(NAMES))
    monkeypatch.setattr(oxford_pets, "BOOK_VAL_SAMPLES", 2)
    return offline_data_home


@pytest.fixture
def extracted(book_cache):
    root = book_cache / oxford_pets.EXTRACTED
    for index, name in enumerate(NAMES):
        write_pet(root, index, name)
    (root / "annotations" / "trimaps" / "._Abyssinian_1.png").write_bytes(b"macOS resource fork")  # the book skips these
    return root


def expected_order():
    order = sorted(NAMES)
    random.Random(1337).shuffle(order)
    return order


def test_real_loader_reads_the_layout_the_books_way(extracted):
    loaded = oxford_pets.real(img_size=(16, 16))
    (x, y), (vx, vy) = loaded.value
    assert x.shape == (4, 16, 16, 3) and x.dtype == np.float32
    assert y.shape == (4, 16, 16, 1) and y.dtype == np.uint8 and vx.shape == (2, 16, 16, 3)
    # sorted, shuffled with Random(1337), the last 2 held out; images and trimaps stay paired
    order = [NAMES.index(n) for n in expected_order()]
    assert np.allclose(np.concatenate([x, vx])[:, 8, 8, 0], [20 * i for i in order], atol=2)
    targets = np.concatenate([y, vy])
    assert [int(t[8, 8, 0]) for t in targets] == [0 if i % 2 == 0 else 1 for i in order]  # 1/2 minus 1
    assert {int(t[0, 0, 0]) for t in targets} == {2}  # the border, 3 minus 1
    assert loaded.provenance["kind"] == "genuine"


def test_real_loader_extracts_the_tarballs_once(book_cache, tmp_path_factory):
    staging = tmp_path_factory.mktemp("staging")
    for index, name in enumerate(NAMES):
        write_pet(staging, index, name)
    for tarball, folder in (("images.tar.gz", "images"), ("annotations.tar.gz", "annotations")):
        with tarfile.open(book_cache / tarball, "w:gz") as archive:
            archive.add(staging / folder, arcname=folder)
    (x, _), (vx, _) = oxford_pets.real(img_size=(8, 8)).value
    assert len(x) + len(vx) == len(NAMES)
    assert (book_cache / oxford_pets.EXTRACTED / "annotations" / "trimaps").is_dir()
    assert [p.name for p in book_cache.iterdir() if p.name.startswith(".")] == []  # no half-extracted folder left


def test_missing_data_says_what_to_fetch_and_where(book_cache):
    with pytest.raises(DatasetUnavailable) as raised:
        load("oxford_pets", tier="book", seed=0)
    message = str(raised.value)
    assert oxford_pets.IMAGES_URL in message and oxford_pets.ANNOTATIONS_URL in message and str(book_cache) in message


def test_truncated_image_is_corrupt(extracted):
    path = extracted / "images" / "beagle_1.jpg"
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(cache.CorruptDataset, match="beagle_1.jpg: not a readable image"):
        oxford_pets.real(img_size=(8, 8))


def test_trimap_with_values_outside_1_2_3_is_corrupt(extracted):
    Image.fromarray(np.zeros((30, 40), dtype=np.uint8), mode="L").save(extracted / "annotations" / "trimaps" / "pug_2.png")
    with pytest.raises(cache.CorruptDataset, match="trimap values must be 1, 2 or 3"):
        oxford_pets.real(img_size=(8, 8))


def test_incomplete_extraction_is_corrupt(extracted):
    (extracted / "images" / "pug_2.jpg").unlink()
    with pytest.raises(cache.CorruptDataset, match="5 images, expected 6"):
        oxford_pets.real(img_size=(8, 8))


def test_unpaired_files_are_corrupt(extracted):
    (extracted / "annotations" / "trimaps" / "pug_2.png").rename(extracted / "annotations" / "trimaps" / "pug_3.png")
    with pytest.raises(cache.CorruptDataset, match="do not pair up"):
        oxford_pets.real(img_size=(8, 8))


def test_corrupt_tarball_is_an_error(book_cache):
    (book_cache / "images.tar.gz").write_bytes(b"\x1f\x8b not really gzip")
    (book_cache / "annotations.tar.gz").write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(cache.CorruptDataset, match="not a readable tar.gz"):
        oxford_pets.real(img_size=(8, 8))
    assert not (book_cache / oxford_pets.EXTRACTED).exists()


def test_trimap_marks_a_band_along_the_outline():
    rows, cols = np.mgrid[0:21, 0:21]
    disc = (rows - 10) ** 2 + (cols - 10) ** 2 <= 36
    out = oxford_pets.trimap(disc, width=1)
    assert set(np.unique(out)) == {1, 2, 3}
    assert out[10, 10] == 1 and out[0, 0] == 2
    outline = disc & ~np.roll(disc, 1, axis=0) | disc & ~np.roll(disc, -1, axis=1)
    assert (out[outline] == 3).all()
    assert out[10, 16] == 3 and out[10, 17] == 3 and out[10, 15] == 1 and out[10, 18] == 2


@pytest.fixture(scope="module")
def twin_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BOOK_DATA_HOME", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def twin(twin_cache):
    return oxford_pets.twin(seed=3, samples=0.01)


def test_twin_has_the_real_layout_and_is_deterministic(twin):
    (x, y), (vx, vy) = twin.value
    side = oxford_pets.TWIN_SIDE
    assert x.shape == (64, side, side, 3) and x.dtype == np.float32 and vx.shape == (10, side, side, 3)
    assert y.dtype == np.uint8 and set(np.unique(y)) == {0, 1, 2}
    (x2, y2), _ = oxford_pets.twin(seed=3, samples=0.01).value
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    (x3, _), _ = oxford_pets.twin(seed=4, samples=0.01).value
    assert not np.array_equal(x, x3)
    folder = oxford_pets.cache_dir() / "oxford_pets_twin"
    assert all(not p.name.startswith(".") for p in folder.iterdir())  # written atomically, no temp folder left


def test_twin_has_a_floor_of_images_however_small_the_sample(twin_cache):
    """The smoke tier trains on the fewest images that still show the lesson (a step of this network is dear)."""
    (x, _), (vx, _) = oxford_pets.twin(seed=3, samples=0.0001).value
    assert len(x) == oxford_pets.TWIN_MIN_TRAIN and len(vx) == oxford_pets.TWIN_MIN_VAL


def test_twin_every_image_has_object_background_and_border(twin):
    (_, y), _ = twin.value
    counts = np.stack([np.bincount(t.ravel(), minlength=3) for t in y])
    assert (counts > 0).all()
    fractions = counts.sum(axis=0) / counts.sum()
    assert 0.15 < fractions[0] < 0.6 and 0.3 < fractions[1] < 0.8  # object and background both matter


def test_twin_object_and_background_differ_in_colour(twin):
    """Foreground is warm, background cool, so a network has something to learn."""
    (x, y), _ = twin.value
    mask = y[..., 0]
    blue_minus_red = x[..., 2] - x[..., 0]
    assert blue_minus_red[mask == 1].mean() - blue_minus_red[mask == 0].mean() > 60


@pytest.mark.slow  # builds 1,000 substitute pictures: over 2 s
def test_offline_is_a_labelled_substitute_of_genuine_digits(twin_cache):
    loaded = oxford_pets.offline()
    (x, y), (vx, vy) = loaded.value
    assert x.shape == (800, 48, 48, 3) and vx.shape == (200, 48, 48, 3)
    assert set(np.unique(y)) == {0, 1, 2}
    assert loaded.provenance["kind"] == "substitute" and "MNIST" in loaded.provenance["description"]
    ink = x[..., 0]
    assert ink[y[..., 0] == 0].mean() > 200 and ink[y[..., 0] == 1].mean() < 30  # the digit is the object

