"""Downloads against an HTTP server on 127.0.0.1 (never the internet), the cache, safe unpacking."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import http.server
import io
import re
import struct
import tarfile
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from guicnn.core.data import (
    DATASETS,
    DataError,
    DownloadCancelled,
    RemoteDataset,
    RemoteFile,
    cache_dir,
    download,
    is_downloaded,
    load_dataset,
    safe_extract_tar,
)


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the test folder; ``/short/<name>`` promises the whole file but sends half."""

    requests: list[str]

    def log_message(self, format, *args):  # keep the test output quiet
        pass

    def do_GET(self):
        self.requests.append(self.path)
        if self.path.startswith("/short/"):
            body = (Path(self.directory) / self.path.removeprefix("/short/")).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()


@pytest.fixture
def server(tmp_path):
    """(base_url, served folder, list of requested paths)."""
    root = tmp_path / "served"
    root.mkdir()
    handler = type("Handler", (_Handler,), {"requests": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root, handler.requests
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("GUICNN_CACHE", str(folder))
    return folder


def _remote(path: Path, url: str = "", sha256: str | None = None) -> RemoteFile:
    data = path.read_bytes()
    return RemoteFile(path.name, url or f"http://127.0.0.1:9/{path.name}", sha256 or hashlib.sha256(data).hexdigest(), len(data))


def _fake_set(monkeypatch, files: tuple[RemoteFile, ...], name: str = "fake") -> RemoteDataset:
    spec = RemoteDataset(
        name=name, title="fake", files=files, class_names=("a", "b"), homepage="", licence="", kind="idx",
        splits={"train": tuple(f.filename for f in files)},
    )
    monkeypatch.setitem(DATASETS, name, spec)
    return spec


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_download_verifies_caches_and_reports_progress(server, cache, monkeypatch):
    base, root, requests = server
    rng = np.random.default_rng(0)
    big = root / "big.bin"
    big.write_bytes(rng.integers(0, 256, 700_000, dtype=np.uint8).tobytes())
    small = root / "small.bin"
    small.write_bytes(b"tiny file")
    # one file through base_url, one through its own url
    spec = _fake_set(monkeypatch, (_remote(big), _remote(small, url=f"{base}/small.bin")))
    calls = []
    folder = download("fake", base_url=base, progress=lambda d, t, f: calls.append((d, t, f)))
    assert folder == cache / "fake"
    assert (folder / "big.bin").read_bytes() == big.read_bytes()
    assert (folder / "small.bin").read_bytes() == small.read_bytes()
    assert _leftovers(folder) == ["big.bin", "small.bin"]
    done = [d for d, _, _ in calls]
    assert len(calls) > 2 and done == sorted(done)
    assert all(t == spec.total_size for _, t, _ in calls)
    assert calls[-1] == (spec.total_size, spec.total_size, "small.bin")
    assert is_downloaded("fake")
    # verified files are not fetched again
    before = len(requests)
    calls.clear()
    download("fake", base_url=base, progress=lambda d, t, f: calls.append((d, t, f)))
    assert len(requests) == before
    assert calls[-1][0] == spec.total_size
    # a damaged cached file is fetched again
    (folder / "small.bin").write_bytes(b"tiny fil!")
    download("fake", base_url=base)
    assert (folder / "small.bin").read_bytes() == b"tiny file" and len(requests) == before + 1


def test_hash_mismatch_deletes_everything(server, cache, monkeypatch):
    base, root, _ = server
    f = root / "data.bin"
    f.write_bytes(b"the real bytes" * 100)
    wrong = "0" * 64
    _fake_set(monkeypatch, (_remote(f, sha256=wrong),))
    with pytest.raises(DataError) as e:
        download("fake", base_url=base)
    message = str(e.value)
    assert "data.bin" in message and wrong in message and hashlib.sha256(f.read_bytes()).hexdigest() in message
    assert _leftovers(cache) == []
    assert not is_downloaded("fake")


def test_truncated_transfer_fails_and_leaves_nothing(server, cache, monkeypatch):
    base, root, _ = server
    f = root / "data.bin"
    f.write_bytes(bytes(range(256)) * 400)
    _fake_set(monkeypatch, (_remote(f),))
    with pytest.raises(DataError, match=r"data\.bin: download from .* was truncated: received 51,200 of 102,400 bytes"):
        download("fake", base_url=base + "/short")
    assert _leftovers(cache) == []


def test_missing_file_and_unreachable_server(server, cache, monkeypatch):
    base, root, _ = server
    f = root / "data.bin"
    f.write_bytes(b"abc")
    _fake_set(monkeypatch, (_remote(f),))
    with pytest.raises(DataError, match=r"data\.bin: download from .*/nowhere/data\.bin failed: HTTP 404"):
        download("fake", base_url=base + "/nowhere")
    with pytest.raises(DataError, match=r"data\.bin: download from http://127\.0\.0\.1:1/data\.bin failed"):
        download("fake", base_url="http://127.0.0.1:1")
    assert _leftovers(cache) == []
    with pytest.raises(DataError, match="not a downloadable data set"):
        download("imagenet")


def test_stop_event_cancels(server, cache, monkeypatch):
    base, root, _ = server
    f = root / "data.bin"
    f.write_bytes(bytes(1_000_000))
    _fake_set(monkeypatch, (_remote(f),))
    stop = threading.Event()

    def progress(done, total, name):
        stop.set()  # ask to stop after the first chunk

    with pytest.raises(DownloadCancelled, match="data.bin: download cancelled"):
        download("fake", base_url=base, progress=progress, stop_event=stop)
    assert _leftovers(cache) == []


def _idx_gz(tmp: Path, name: str, payload: bytes) -> Path:
    path = tmp / name
    path.write_bytes(gzip.compress(payload))
    return path


def test_mnist_from_the_cache_end_to_end(server, cache, monkeypatch):
    base, root, _ = server
    rng = np.random.default_rng(1)
    train = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)
    test = rng.integers(0, 256, (3, 28, 28), dtype=np.uint8)
    files = [
        _idx_gz(root, "train-images-idx3-ubyte.gz", struct.pack(">IIII", 2051, 6, 28, 28) + train.tobytes()),
        _idx_gz(root, "train-labels-idx1-ubyte.gz", struct.pack(">II", 2049, 6) + bytes([0, 1, 2, 3, 4, 9])),
        _idx_gz(root, "t10k-images-idx3-ubyte.gz", struct.pack(">IIII", 2051, 3, 28, 28) + test.tobytes()),
        _idx_gz(root, "t10k-labels-idx1-ubyte.gz", struct.pack(">II", 2049, 3) + bytes([7, 8, 9])),
    ]
    real = DATASETS["mnist"]
    monkeypatch.setitem(DATASETS, "mnist", dataclasses.replace(real, files=tuple(_remote(f) for f in files)))
    with pytest.raises(DataError, match="mnist: not downloaded yet"):
        load_dataset("mnist")
    ds = load_dataset("mnist", download=True, base_url=base)
    assert ds.name == "mnist" and ds.x.shape == (6, 1, 28, 28) and ds.class_names == [str(i) for i in range(10)]
    assert np.allclose(ds.x[:, 0] * 255, train) and np.array_equal(ds.y, [0, 1, 2, 3, 4, 9])
    ds_test = load_dataset("MNIST", split="test")
    assert np.array_equal(ds_test.y, [7, 8, 9]) and (cache / "mnist").is_dir()


def test_published_checksums_are_well_formed():
    for name, spec in DATASETS.items():
        assert spec.files and spec.name == name
        for f in spec.files:
            assert re.fullmatch(r"[0-9a-f]{64}", f.sha256), f
            assert f.size > 1000 and f.url.endswith(f.filename) and f.url.startswith(("http://", "https://"))
    assert DATASETS["mnist"].files[0].sha256.startswith("440fcabf")
    assert len(DATASETS["fashion-mnist"].class_names) == 10 and len(DATASETS["cifar10"].class_names) == 10


def test_cache_dir_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("GUICNN_CACHE", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("GUICNN_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "guicnn"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: tmp_path / "home"))
    monkeypatch.setattr("sys.platform", "linux")
    assert cache_dir() == tmp_path / "home" / ".cache" / "guicnn"


# --------------------------------------------------------------------------- tar unpacking


def _tar(path: Path, members: list[tuple[str, bytes | None, bytes]]) -> Path:
    """members: (name, data or None, type) written into a .tar.gz."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data, kind in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.SYMTYPE:
                info.linkname = "/etc/passwd"
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def test_safe_extract_unpacks_regular_files(tmp_path):
    archive = _tar(
        tmp_path / "ok.tar.gz",
        [("cifar-10-batches-bin", None, tarfile.DIRTYPE), ("cifar-10-batches-bin/a.bin", b"AAA", tarfile.REGTYPE)],
    )
    out = tmp_path / "out"
    written = safe_extract_tar(archive, out)
    assert written == [(out / "cifar-10-batches-bin" / "a.bin").resolve()]
    assert (out / "cifar-10-batches-bin" / "a.bin").read_bytes() == b"AAA"


@pytest.mark.parametrize(
    ("name", "kind", "message"),
    [
        ("../evil.txt", tarfile.REGTYPE, "unsafe member path"),
        ("/tmp/evil.txt", tarfile.REGTYPE, "unsafe member path"),
        ("dir/../../evil.txt", tarfile.REGTYPE, "unsafe member path"),
        ("link", tarfile.SYMTYPE, "not a regular file"),
    ],
)
def test_safe_extract_refuses_escapes(tmp_path, name, kind, message):
    archive = _tar(tmp_path / "bad.tar.gz", [(name, b"x" if kind == tarfile.REGTYPE else None, kind)])
    out = tmp_path / "deep" / "out"
    with pytest.raises(DataError, match=f"bad.tar.gz: .*{message}"):
        safe_extract_tar(archive, out)
    assert not (tmp_path / "deep" / "evil.txt").exists() and not (tmp_path / "evil.txt").exists()
    assert _leftovers(out) == []


def test_safe_extract_refuses_damaged_archive(tmp_path):
    archive = _tar(tmp_path / "cut.tar.gz", [("a.bin", bytes(range(256)) * 64, tarfile.REGTYPE)])
    archive.write_bytes(archive.read_bytes()[:100])
    with pytest.raises(DataError, match="cut.tar.gz: cannot unpack"):
        safe_extract_tar(archive, tmp_path / "out")
