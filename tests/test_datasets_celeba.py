"""The CelebA loader extracts the book's img_align_celeba.zip once and refuses damaged or partial
input; the twin and the offline substitute are deterministic face folders the book's code reads."""

import io
import zipfile

import numpy as np
import pytest

from reference_impl.api import DatasetUnavailable
from reference_impl.datasets import cache, celeba, load

FACES = 5  # CelebA has 202,599


def jpeg(seed: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (27, 22, 3), dtype=np.uint8)).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    """An empty data cache, downloads off, and a CelebA of five faces."""
    monkeypatch.setenv("BOOK_DATA_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("BOOK_DATA_OFFLINE", "1")
    monkeypatch.setattr(celeba, "EXPECTED_IMAGES", FACES)
    monkeypatch.setattr(celeba, "twin_home", lambda: tmp_path / "twins")
    return tmp_path / "cache"


def write_zip(cache_home, faces=FACES):
    """The book's img_align_celeba.zip layout: img_align_celeba/000001.jpg, ..."""
    path = cache.cache_dir() / celeba.ARCHIVE
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("img_align_celeba/", b"")
        for i in range(faces):
            archive.writestr(f"img_align_celeba/{i + 1:06d}.jpg", jpeg(i))
    return path


def test_real_extracts_the_zip_once(cache_home):
    write_zip(cache_home)
    loaded = celeba.real()
    folder, image_size = loaded.value
    assert folder == cache_home / "celeba_gan" and image_size == (64, 64)
    assert sorted(p.name for p in (folder / "img_align_celeba").iterdir()) == [f"{i:06d}.jpg" for i in range(1, 6)]
    assert loaded.provenance["kind"] == "genuine"
    marker = folder / "img_align_celeba" / "000001.jpg"
    marker.write_bytes(b"touched")  # a second load must not extract again
    celeba.real()
    assert marker.read_bytes() == b"touched"
    assert not [p for p in cache_home.iterdir() if p.name.startswith(".")], "no temporary folder is left behind"


def test_real_loads_with_the_books_image_dataset_from_directory_call(cache_home):
    import keras

    write_zip(cache_home)
    folder, image_size = celeba.real().value
    dataset = keras.utils.image_dataset_from_directory(
        folder, label_mode=None, image_size=image_size, batch_size=32, crop_to_aspect_ratio=True, verbose=False)
    batch = next(iter(dataset))
    assert tuple(batch.shape) == (FACES, 64, 64, 3)


def test_a_half_extracted_folder_is_extracted_again(cache_home):
    write_zip(cache_home)
    images = cache_home / "celeba_gan" / "img_align_celeba"
    images.mkdir(parents=True)
    (images / "000001.jpg").write_bytes(jpeg(0))  # one of five: an interrupted extraction
    folder, _ = celeba.real().value
    assert celeba.count_images(folder / "img_align_celeba") == FACES


def test_images_deleted_since_the_extraction_are_extracted_again(cache_home):
    write_zip(cache_home)
    folder, _ = celeba.real().value
    (folder / "img_align_celeba" / "000003.jpg").unlink()
    folder, _ = celeba.real().value
    assert celeba.count_images(folder / "img_align_celeba") == FACES


def test_a_damaged_tree_without_its_zip_is_kept_and_not_used(cache_home):
    path = write_zip(cache_home)
    folder, _ = celeba.real().value
    (folder / "img_align_celeba" / "000003.jpg").unlink()
    path.unlink()
    with pytest.raises(DatasetUnavailable, match="put img_align_celeba.zip"):
        celeba.real()
    assert celeba.count_images(folder / "img_align_celeba") == FACES - 1  # nothing more lost


def test_a_complete_folder_extracted_before_manifests_is_used_without_its_zip(cache_home):
    path = write_zip(cache_home)
    folder, _ = celeba.real().value
    (folder / "manifest.json").unlink()  # as the earlier loader left it
    path.unlink()
    folder, _ = celeba.real().value
    assert celeba.count_images(folder / "img_align_celeba") == FACES
    assert (folder / "manifest.json").exists()


def test_a_zip_with_too_few_faces_is_corrupt_and_never_used(cache_home):
    write_zip(cache_home, faces=FACES - 1)
    with pytest.raises(cache.CorruptDataset, match="holds 4 images, expected 5"):
        celeba.real()
    assert not (cache_home / "celeba_gan").exists()


def test_a_corrupt_zip_is_an_error_naming_the_file(cache_home):
    path = cache.cache_dir() / celeba.ARCHIVE
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(cache.CorruptDataset, match="img_align_celeba.zip"):
        celeba.real()
    assert not (cache_home / "celeba_gan").exists()


def test_a_missing_zip_says_where_to_put_it(cache_home):
    with pytest.raises(DatasetUnavailable, match=r"put img_align_celeba.zip .* in .*cache"):
        load("celeba", tier="book", seed=0)


def test_the_twin_is_deterministic_per_seed(cache_home):
    first, image_size = celeba.twin(seed=3, samples=0.0002).value
    files = sorted((first / "images").iterdir())
    assert len(files) == max(celeba.TWIN_MIN_IMAGES, round(celeba.EXPECTED_IMAGES * 0.0002))
    assert image_size == (celeba.TWIN_SIDE, celeba.TWIN_SIDE)
    again = celeba.draw_faces(len(files), celeba.TWIN_SIDE, np.random.RandomState(3))
    other = celeba.draw_faces(len(files), celeba.TWIN_SIDE, np.random.RandomState(4))
    assert np.array_equal(again, celeba.draw_faces(len(files), celeba.TWIN_SIDE, np.random.RandomState(3)))
    assert not np.array_equal(again, other)
    from PIL import Image

    assert np.array_equal(np.asarray(Image.open(files[0])), again[0])  # PNG: lossless


def test_the_twin_loads_with_the_books_call():
    import keras

    loaded = load("celeba", tier="smoke", seed=0, samples=0.0001)
    folder, image_size = loaded.value
    dataset = keras.utils.image_dataset_from_directory(
        folder, label_mode=None, image_size=image_size, batch_size=32, crop_to_aspect_ratio=True, verbose=False)
    batch = next(iter(dataset.map(lambda x: x / 255.)))
    assert tuple(batch.shape) == (32, celeba.TWIN_SIDE, celeba.TWIN_SIDE, 3)
    assert 0 <= float(batch.numpy().min()) and float(batch.numpy().max()) <= 1
    assert loaded.provenance["kind"] == "synthetic"


def test_offline_writes_the_hundred_lfw_faces(cache_home):
    data = pytest.importorskip("skimage.data", reason="the offline substitute needs scikit-image")
    from PIL import Image

    loaded = celeba.offline()
    folder, image_size = loaded.value
    files = sorted((folder / "images").iterdir())
    assert len(files) == 100 and image_size == (celeba.OFFLINE_SIDE, celeba.OFFLINE_SIDE)
    assert loaded.provenance["kind"] == "substitute"
    first = np.asarray(Image.open(files[0]))
    assert first.shape == (25, 25, 3) and np.array_equal(first[..., 0], first[..., 2])
    faces = data.lfw_subset()
    assert np.array_equal(first[..., 0], np.rint(faces[0] * 255).astype(np.uint8))  # a face, not one of the last 100
    last = np.asarray(Image.open(files[-1]))[..., 0]
    assert np.array_equal(last, np.rint(faces[99] * 255).astype(np.uint8))


def test_offline_without_scikit_image_names_the_extra(cache_home, monkeypatch):
    from helpers import package_missing

    package_missing("skimage")(monkeypatch)
    with pytest.raises(DatasetUnavailable, match=r"celeba-offline"):
        celeba.offline()
