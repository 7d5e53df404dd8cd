"""The cats-vs-dogs loader builds the book's small set from Kaggle's train.zip (or its extracted
folder) and refuses damaged input; the twin and the offline substitute are sound and cached safely."""

import zipfile

import numpy as np
import pytest

from reference_impl.api import DatasetUnavailable
from reference_impl.datasets import cache, cats_vs_dogs, load

SPLIT = (("train", 0, 4), ("validation", 4, 6), ("test", 6, 10))  # the book's 1000/500/1000, shrunk
PHOTOS_PER_CLASS = 12  # Kaggle has 12,500


def jpeg(seed: int) -> bytes:
    return cats_vs_dogs._encode_jpeg(np.random.default_rng(seed).integers(0, 256, (24, 30, 3), dtype=np.uint8))


def kaggle_names():
    return [f"{c}.{i}.jpg" for c in ("cat", "dog") for i in range(PHOTOS_PER_CLASS)]


@pytest.fixture
def cache_home(tmp_path, monkeypatch):
    """An empty data cache, downloads off, and the small-scale split."""
    monkeypatch.setenv("BOOK_DATA_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("BOOK_DATA_OFFLINE", "1")
    monkeypatch.setattr(cats_vs_dogs, "BOOK_SPLIT", SPLIT)
    monkeypatch.setattr(cats_vs_dogs, "KAGGLE_IMAGES_PER_CLASS", PHOTOS_PER_CLASS)
    monkeypatch.setattr(cats_vs_dogs, "twin_home", lambda: tmp_path / "twins")
    return tmp_path / "cache"


def write_train_zip(cache_home, names=None, stored=False, replaced=None):
    """Kaggle's train.zip layout: a top-level train/ folder of cat.N.jpg and dog.N.jpg;
    ``replaced`` maps names to other contents."""
    path = cats_vs_dogs.kaggle_dir() / "train.zip"
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED) as archive:
        for seed, name in enumerate(names or kaggle_names()):
            archive.writestr(f"train/{name}", (replaced or {}).get(name) or jpeg(seed))
    return path


def test_real_builds_the_python_split_from_train_zip(cache_home):
    archive = write_train_zip(cache_home)
    loaded = cats_vs_dogs.real()
    base_dir, image_size = loaded.value
    assert image_size == (180, 180) and base_dir == cache_home / "cats_vs_dogs_small"
    assert sorted(p.name for p in (base_dir / "train" / "cat").iterdir()) == [f"cat.{i}.jpg" for i in range(4)]
    assert sorted(p.name for p in (base_dir / "validation" / "dog").iterdir()) == ["dog.4.jpg", "dog.5.jpg"]
    assert sorted(p.name for p in (base_dir / "test" / "cat").iterdir()) == [f"cat.{i}.jpg" for i in range(6, 10)]
    assert loaded.provenance["kind"] == "genuine"
    assert loaded.provenance["archive_sha256"] == cache.sha256_of(archive)
    assert loaded.provenance["train_per_class"] == 4


def test_the_small_set_loads_with_image_dataset_from_directory_at_book_size(cache_home):
    import keras

    write_train_zip(cache_home)
    base_dir, image_size = load("cats_vs_dogs", tier="book", seed=0).value
    dataset = keras.utils.image_dataset_from_directory(base_dir / "train", image_size=image_size, batch_size=32)
    images, labels = next(iter(dataset))
    assert tuple(images.shape) == (8, 180, 180, 3) and dataset.class_names == ["cat", "dog"]


def test_real_is_built_once_then_reused_without_the_archive(cache_home):
    archive = write_train_zip(cache_home)
    first = cats_vs_dogs.real()
    archive.unlink()
    assert cats_vs_dogs.real().provenance == first.provenance


def test_real_reads_the_extracted_train_folder(cache_home):
    folder = cats_vs_dogs.kaggle_dir() / "train"
    folder.mkdir(parents=True)
    for seed, name in enumerate(kaggle_names()):
        (folder / name).write_bytes(jpeg(seed))
    loaded = cats_vs_dogs.real()
    assert loaded.provenance["archive"] == "train/ (extracted)"
    assert (loaded.value.base_dir / "test" / "dog" / "dog.9.jpg").read_bytes() == (folder / "dog.9.jpg").read_bytes()


def test_missing_archive_says_what_to_fetch_and_where(cache_home):
    with pytest.raises(DatasetUnavailable) as raised:
        load("cats_vs_dogs", tier="book", seed=0)
    message = str(raised.value)
    assert "Kaggle account" in message and cats_vs_dogs.KAGGLE_URL in message
    assert str(cache_home / "dogs-vs-cats") in message
    assert not (cache_home / "cats_vs_dogs_small").exists()
    assert list(cache_home.iterdir()) == []  # no half-built tree left behind


def test_corrupt_jpeg_is_an_error_and_nothing_is_kept(cache_home):
    write_train_zip(cache_home, replaced={"cat.5.jpg": b"\xff\xd8\xff\xe0 truncated"})  # a validation photo
    with pytest.raises(cache.CorruptDataset, match="cat.5.jpg: not a readable JPEG"):
        cats_vs_dogs.real()
    assert not (cache_home / "cats_vs_dogs_small").exists()
    assert [p.name for p in cache_home.iterdir()] == ["dogs-vs-cats"]


def test_damaged_zip_member_fails_its_crc(cache_home):
    path = write_train_zip(cache_home, stored=True)
    data = bytearray(path.read_bytes())
    target = jpeg(2)  # cat.2.jpg, stored uncompressed
    at = data.find(target)
    data[at + len(target) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(cache.CorruptDataset, match="cat.2.jpg is damaged"):
        cats_vs_dogs.real()


def test_not_a_zip_and_missing_photos_are_reported(cache_home):
    path = write_train_zip(cache_home, names=kaggle_names()[:-1])
    with pytest.raises(cache.CorruptDataset, match="1 of Kaggle's 24 photos are missing .*dog.11.jpg"):
        cats_vs_dogs.real()
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(cache.CorruptDataset, match="not a readable zip"):
        cats_vs_dogs.real()


def read_tree(base_dir):
    return {str(p.relative_to(base_dir)): p.read_bytes() for p in sorted(base_dir.rglob("*.jpg"))}


def test_twin_has_the_layout_and_is_deterministic(cache_home, tmp_path, monkeypatch):
    loaded = load("cats_vs_dogs", tier="smoke", seed=3, samples=0.02, stand_in_size=32)
    base_dir, image_size = loaded.value
    assert image_size == (32, 32)
    tree = read_tree(base_dir)
    for (subset, _, _), per_class in zip(cats_vs_dogs.BOOK_SPLIT, cats_vs_dogs.TWIN_MIN_PER_CLASS):  # the floors
        for category in ("cat", "dog"):
            assert sum(name.startswith(f"{subset}/{category}/") for name in tree) == per_class
    import tensorflow as tf

    assert tuple(tf.io.decode_jpeg(tree["train/cat/cat.0.jpg"]).shape) == (32, 32, 3)
    assert loaded.provenance["kind"] == "synthetic" and loaded.provenance["seed"] == 3

    monkeypatch.setattr(cats_vs_dogs, "twin_home", lambda: tmp_path / "elsewhere")
    again = cats_vs_dogs.twin(seed=3, samples=0.02, stand_in_size=32).value.base_dir
    assert again != base_dir and read_tree(again) == tree  # redrawn from scratch, byte for byte
    other = cats_vs_dogs.twin(seed=4, samples=0.02, stand_in_size=32).value.base_dir
    assert read_tree(other) != tree


def test_a_twin_interrupted_while_writing_is_never_used(cache_home, monkeypatch):
    encode, written = cats_vs_dogs._encode_jpeg, []

    def fail_after_five(image):
        if len(written) == 5:
            raise KeyboardInterrupt
        written.append(image)
        return encode(image)

    monkeypatch.setattr(cats_vs_dogs, "_encode_jpeg", fail_after_five)
    with pytest.raises(KeyboardInterrupt):
        cats_vs_dogs.twin(seed=0, samples=0.02, stand_in_size=32)
    assert list((cats_vs_dogs.twin_home()).iterdir()) == []
    monkeypatch.setattr(cats_vs_dogs, "_encode_jpeg", encode)
    base_dir = cats_vs_dogs.twin(seed=0, samples=0.02, stand_in_size=32).value.base_dir
    assert len(read_tree(base_dir)) == 2 * sum(cats_vs_dogs.TWIN_MIN_PER_CLASS)


def test_twin_classes_differ_in_fine_texture():
    """Cats carry a fine checkerboard, dogs a smooth shading: high-frequency energy tells them apart."""
    rng = np.random.RandomState(0)

    def fine_energy(images):
        grey = images.astype("float32").mean(axis=-1)
        return np.abs(np.diff(grey, axis=1)).mean(axis=(1, 2))

    cats, dogs = fine_energy(cats_vs_dogs.draw("cat", 40, 80, rng)), fine_energy(cats_vs_dogs.draw("dog", 40, 80, rng))
    assert cats.mean() > dogs.mean() + 3 * (cats.std() + dogs.std()) / np.sqrt(40)


def test_offline_is_a_labelled_substitute_of_genuine_digits(cache_home):
    loaded = load("cats_vs_dogs", tier="offline", seed=0, stand_in_size=32)
    base_dir, image_size = loaded.value
    assert image_size == (32, 32)
    assert loaded.provenance["kind"] == "substitute" and "MNIST" in loaded.provenance["description"]
    assert len(list((base_dir / "train" / "cat").iterdir())) == 200
    assert len(list((base_dir / "test" / "dog").iterdir())) == 200


def test_a_cached_tree_missing_photos_is_built_again_not_trained_on(cache_home):
    base_dir = cats_vs_dogs.twin(seed=6, samples=0.02, stand_in_size=32).value.base_dir
    photos = sorted((base_dir / "train" / "dog").iterdir())
    for photo in photos:
        photo.unlink()  # the manifest still says 8 dogs per class
    again = cats_vs_dogs.twin(seed=6, samples=0.02, stand_in_size=32).value.base_dir
    assert sorted(p.name for p in (again / "train" / "dog").iterdir()) == [p.name for p in photos]


def test_a_tree_without_its_manifest_is_built_again_and_the_old_one_kept_until_then(cache_home):
    write_train_zip(cache_home)
    base_dir = load("cats_vs_dogs", tier="book", seed=0).value.base_dir
    (base_dir / cats_vs_dogs.MANIFEST).unlink()
    (base_dir / "train" / "cat" / "cat.0.jpg").unlink()
    cats_vs_dogs.kaggle_dir().joinpath("train.zip").rename(cache_home / "elsewhere.zip")
    with pytest.raises(DatasetUnavailable, match="train.zip is not in the cache"):
        load("cats_vs_dogs", tier="book", seed=0)  # no source to rebuild from: the old tree stays
    assert (base_dir / "train" / "cat" / "cat.1.jpg").exists()
    (cache_home / "elsewhere.zip").rename(cats_vs_dogs.kaggle_dir() / "train.zip")
    rebuilt = load("cats_vs_dogs", tier="book", seed=0).value.base_dir
    assert (rebuilt / "train" / "cat" / "cat.0.jpg").exists() and (rebuilt / cats_vs_dogs.MANIFEST).exists()
    assert not [p for p in rebuilt.parent.iterdir() if p.name.startswith(".")]  # no temporary or stale tree left


def test_a_damaged_photo_names_its_source_and_how_to_fetch_it_again(cache_home):
    write_train_zip(cache_home, replaced={"dog.1.jpg": b"not a jpeg"})
    with pytest.raises(cache.CorruptDataset, match=r"train\.zip: dog\.1\.jpg: not a readable JPEG .*fetch train\.zip "
                                                   r"again from https://www\.kaggle\.com"):
        load("cats_vs_dogs", tier="book", seed=0)
