"""The download cache: where it lives, when it may download, and what a cache it cannot write or a
download cut short tell the user, with nothing half-written left behind."""

import errno
import http.client
import os
from pathlib import Path

import pytest

from reference_impl.api import DatasetUnavailable
from reference_impl.datasets import cache

REMOTE = cache.RemoteFile("f.bin", "http://example.invalid/f.bin", sha256="0" * 64)


def test_an_empty_data_home_is_unset_and_a_tilde_is_the_home_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("BOOK_DATA_HOME", " ")
    assert cache.cache_dir() == tmp_path / "keras" / "datasets"  # not the current folder
    monkeypatch.setenv("BOOK_DATA_HOME", "~/book-data")
    assert cache.cache_dir() == Path.home() / "book-data"


@pytest.mark.parametrize("value, allowed", [("1", False), ("TRUE", False), ("on", False), (" yes ", False),
                                            ("", True), ("0", True)])
def test_downloads_are_off_for_every_spelling_of_yes(monkeypatch, value, allowed):
    monkeypatch.setenv("BOOK_DATA_OFFLINE", value)
    assert cache.downloads_allowed() is allowed


def test_a_read_only_cache_is_unavailable_data_with_the_way_out(tmp_path, monkeypatch):
    def read_only(self, *args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))

    monkeypatch.delenv("BOOK_DATA_OFFLINE", raising=False)
    monkeypatch.setattr(Path, "touch", read_only)  # as on a read-only mount, for root too
    with pytest.raises(DatasetUnavailable, match=rf"data cache {tmp_path} cannot be written \(Read-only file "
                                                 rf"system\): set BOOK_DATA_HOME to a writable folder"):
        cache.fetch(REMOTE, tmp_path)


def test_a_cache_folder_that_cannot_exist_is_unavailable_data(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(DatasetUnavailable, match="cannot be written"):
        cache.writable_folder(blocker / "datasets")


def serve(monkeypatch, read):
    """Downloads on, and every URL answers with a response whose ``read(size)`` is ``read``."""
    class Response:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self, size):
            return read()

    monkeypatch.delenv("BOOK_DATA_OFFLINE", raising=False)
    monkeypatch.setattr(cache.urllib.request, "urlopen", lambda url, timeout: Response())


@pytest.mark.parametrize("cut", [http.client.IncompleteRead(b"x" * 4096), ConnectionResetError("reset by peer")])
def test_a_download_cut_short_says_what_to_fetch_and_leaves_nothing(tmp_path, monkeypatch, cut):
    def broken():
        raise cut

    serve(monkeypatch, broken)
    with pytest.raises(DatasetUnavailable, match=rf"f\.bin is not in the cache \(download failed: .*fetch "
                                                 rf"http://example\.invalid/f\.bin to {tmp_path}"):
        cache.fetch(REMOTE, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_download_that_does_not_match_its_digest_says_what_arrived(tmp_path, monkeypatch):
    chunks = [b"partial", b""]
    serve(monkeypatch, lambda: chunks.pop(0))
    with pytest.raises(DatasetUnavailable, match=r"the download of 7 bytes has SHA-256 [0-9a-f]{64}: cut short, or "
                                                 r"not the published file\); fetch http://example\.invalid/f\.bin"):
        cache.fetch(REMOTE, tmp_path)
    assert list(tmp_path.iterdir()) == []
