"""Optional download of the standard data sets into a per-user cache, with SHA-256 checks.

Files are streamed to ``<name>.part`` while their SHA-256 is computed; only a file whose
size and hash match the published values is moved into place (``os.replace``). A mismatch,
a truncated transfer or a cancelled download leaves no file behind. Files already in the
cache with the right hash are not fetched again. The CIFAR-10 archive is unpacked after
verification, refusing any member that is not a regular file inside the target folder.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import sys
import tarfile
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..errors import DataError
from .loaders import CIFAR10_CLASSES, CIFAR_FOLDER, CIFAR_RECORD_BYTES

ProgressCallback = Callable[[int, int, str], None]

#: Seconds to wait for the server before giving up on a connection or a read.
TIMEOUT = 60.0
_CHUNK = 1 << 18


class DownloadCancelled(DataError):
    """The download was stopped through its ``stop_event``."""


@dataclass(frozen=True)
class RemoteFile:
    """One file of a downloadable data set: where it lives and what it must hash to."""

    filename: str
    url: str
    sha256: str
    size: int


@dataclass(frozen=True)
class RemoteDataset:
    """A downloadable data set: its files and what the loader needs to know about it."""

    name: str
    title: str
    files: tuple[RemoteFile, ...]
    class_names: tuple[str, ...]
    homepage: str
    licence: str
    #: "idx" (gzipped IDX files) or "cifar10-tar" (one tar.gz of binary batches, unpacked)
    kind: str = "idx"
    #: files the loader reads, by split, relative to the data set's cache folder
    splits: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)


def _idx_files(base: str, sizes_and_hashes: dict[str, tuple[int, str]]) -> tuple[RemoteFile, ...]:
    return tuple(RemoteFile(name, base + name, sha, size) for name, (size, sha) in sizes_and_hashes.items())


_IDX_SPLITS = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

# SHA-256 values and sizes as published by projects that pin these files (see guicnn/resources/DATA.md).
DATASETS: dict[str, RemoteDataset] = {
    "mnist": RemoteDataset(
        name="mnist",
        title="MNIST handwritten digits",
        files=_idx_files(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            {
                "train-images-idx3-ubyte.gz": (9912422, "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
                "train-labels-idx1-ubyte.gz": (28881, "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
                "t10k-images-idx3-ubyte.gz": (1648877, "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
                "t10k-labels-idx1-ubyte.gz": (4542, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
            },
        ),
        class_names=tuple(str(i) for i in range(10)),
        homepage="http://yann.lecun.com/exdb/mnist/",
        licence="Y. LeCun, C. Cortes and C. J. C. Burges; no licence stated by the authors",
        kind="idx",
        splits=_IDX_SPLITS,
    ),
    "fashion-mnist": RemoteDataset(
        name="fashion-mnist",
        title="Fashion-MNIST clothing pictures",
        files=_idx_files(
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            {
                "train-images-idx3-ubyte.gz": (26421880, "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
                "train-labels-idx1-ubyte.gz": (29515, "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
                "t10k-images-idx3-ubyte.gz": (4422102, "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
                "t10k-labels-idx1-ubyte.gz": (5148, "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
            },
        ),
        class_names=(
            "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
        ),  # fmt: skip
        homepage="https://github.com/zalandoresearch/fashion-mnist",
        licence="Zalando Research, MIT licence",
        kind="idx",
        splits=_IDX_SPLITS,
    ),
    "cifar10": RemoteDataset(
        name="cifar10",
        title="CIFAR-10 small colour pictures",
        files=(
            RemoteFile(
                "cifar-10-binary.tar.gz",
                "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
                "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
                170052171,
            ),
        ),
        class_names=tuple(CIFAR10_CLASSES),
        homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
        licence="A. Krizhevsky (2009); free for research and teaching, cite the technical report",
        kind="cifar10-tar",
        splits={
            "train": tuple(f"{CIFAR_FOLDER}/data_batch_{i}.bin" for i in range(1, 6)),
            "test": (f"{CIFAR_FOLDER}/test_batch.bin",),
        },
    ),
}

#: Other spellings accepted for the data set names.
ALIASES = {
    "fashion_mnist": "fashion-mnist",
    "fashionmnist": "fashion-mnist",
    "fmnist": "fashion-mnist",
    "cifar-10": "cifar10",
    "cifar_10": "cifar10",
}


def canonical_name(name: str) -> str:
    key = str(name).strip().lower()
    return ALIASES.get(key, key)


def _spec(name: str) -> RemoteDataset:
    key = canonical_name(name)
    try:
        return DATASETS[key]
    except KeyError:
        raise DataError(f"{name}: not a downloadable data set (choose from {', '.join(DATASETS)})") from None


def cache_dir() -> Path:
    """Per-user folder for downloaded data: ``$GUICNN_CACHE``, else ``$XDG_CACHE_HOME/guicnn``,
    else the platform's cache folder (``~/.cache/guicnn`` on Linux)."""
    env = os.environ.get("GUICNN_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "guicnn"
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "guicnn" / "cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "guicnn"
    return Path.home() / ".cache" / "guicnn"


def dataset_dir(name: str, cache: str | os.PathLike | None = None) -> Path:
    """The folder a data set is (or would be) downloaded to."""
    return Path(cache if cache is not None else cache_dir()) / _spec(name).name


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _verified(path: Path, remote: RemoteFile) -> bool:
    try:
        return path.is_file() and path.stat().st_size == remote.size and sha256_file(path) == remote.sha256
    except OSError:
        return False


def _needed_present(spec: RemoteDataset, root: Path) -> bool:
    if spec.kind == "cifar10-tar":
        return all(
            (root / rel).is_file() and (root / rel).stat().st_size == 10000 * CIFAR_RECORD_BYTES
            for rels in spec.splits.values()
            for rel in rels
        )
    return all((root / f.filename).is_file() and (root / f.filename).stat().st_size == f.size for f in spec.files)


def is_downloaded(name: str, cache: str | os.PathLike | None = None) -> bool:
    """Whether the data set's files are in the cache (by size; the hash was checked on download)."""
    spec = _spec(name)
    return _needed_present(spec, dataset_dir(spec.name, cache))


def _fetch(
    remote: RemoteFile,
    url: str,
    dest: Path,
    done_before: int,
    total: int,
    progress: ProgressCallback | None,
    stop_event: threading.Event | None,
) -> None:
    """Stream ``url`` to ``dest`` through ``dest.part``; verify size and SHA-256 before the rename."""
    part = dest.with_name(dest.name + ".part")
    h = hashlib.sha256()
    received = 0
    try:
        try:
            request = urllib.request.Request(url, headers={"User-Agent": "guicnn"})
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response, open(part, "wb") as out:
                while True:
                    if stop_event is not None and stop_event.is_set():
                        raise DownloadCancelled(f"{remote.filename}: download cancelled")
                    chunk = response.read(min(_CHUNK, remote.size - received + 1))
                    if not chunk:
                        break
                    received += len(chunk)
                    if received > remote.size:
                        raise DataError(
                            f"{remote.filename}: the server sent more than the expected {remote.size:,} bytes from {url}"
                        )
                    out.write(chunk)
                    h.update(chunk)
                    if progress is not None:
                        progress(done_before + received, total, remote.filename)
        except DataError:
            raise
        except urllib.error.HTTPError as exc:
            raise DataError(f"{remote.filename}: download from {url} failed: HTTP {exc.code} {exc.reason}") from exc
        except urllib.error.URLError as exc:
            raise DataError(f"{remote.filename}: download from {url} failed: {exc.reason}") from exc
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise DataError(f"{remote.filename}: download from {url} failed: {type(exc).__name__}: {exc}") from exc
        if received != remote.size:
            raise DataError(
                f"{remote.filename}: download from {url} was truncated: received {received:,} of {remote.size:,} bytes"
            )
        actual = h.hexdigest()
        if actual != remote.sha256:
            raise DataError(
                f"{remote.filename}: SHA-256 mismatch for the file from {url}: expected {remote.sha256}, got {actual}"
            )
        os.replace(part, dest)
    finally:
        try:
            part.unlink(missing_ok=True)  # gone already after a successful os.replace
        except OSError:
            pass


def safe_extract_tar(archive: str | os.PathLike, dest: str | os.PathLike, max_member_size: int = 1 << 30) -> list[Path]:
    """Unpack the regular files of a tar archive under ``dest``; refuse anything else.

    Absolute names, ``..`` components, links and device files raise :class:`DataError`
    (directories are recreated from file paths). Each file is written to a temporary
    name and renamed when complete. Returns the written paths.
    """
    archive = Path(archive)
    dest = Path(dest)
    root = dest.resolve()
    written = []
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                rel = PurePosixPath(member.name)
                if rel.is_absolute() or ".." in rel.parts or "\\" in member.name or ":" in member.name:
                    raise DataError(f"{archive.name}: refusing unsafe member path {member.name!r}")
                if member.isdir():
                    continue
                if not member.isfile():
                    raise DataError(f"{archive.name}: refusing member {member.name!r}, which is not a regular file")
                if member.size > max_member_size:
                    raise DataError(f"{archive.name}: member {member.name!r} is unexpectedly large ({member.size:,} bytes)")
                target = root.joinpath(*rel.parts)
                if not target.resolve().is_relative_to(root):
                    raise DataError(f"{archive.name}: refusing member {member.name!r} outside the target folder")
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                if source is None:
                    raise DataError(f"{archive.name}: cannot read member {member.name!r}")
                tmp = target.with_name(target.name + ".part")
                try:
                    with source, open(tmp, "wb") as out:
                        shutil.copyfileobj(source, out, _CHUNK)
                    os.replace(tmp, target)
                finally:
                    if tmp.exists():
                        tmp.unlink()
                written.append(target)
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DataError(f"{archive.name}: cannot unpack the archive ({type(exc).__name__}: {exc})") from exc
    return written


def download(
    name: str,
    *,
    base_url: str | None = None,
    progress: ProgressCallback | None = None,
    cache: str | os.PathLike | None = None,
    stop_event: threading.Event | None = None,
) -> Path:
    """Download a standard data set ("mnist", "fashion-mnist", "cifar10") into the cache.

    Returns the data set's folder. ``progress(done_bytes, total_bytes, filename)`` is called
    as bytes arrive, with counts over the whole data set (files already present count as
    done). ``base_url`` replaces the mirror (the file name is appended). ``stop_event``
    cancels between chunks (raising :class:`DownloadCancelled`). Raises :class:`DataError`
    naming the file on network errors, truncated transfers and hash mismatches.
    """
    spec = _spec(name)
    root = dataset_dir(spec.name, cache)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"{root}: cannot create the download folder ({exc})") from exc
    total = spec.total_size
    done = 0
    for remote in spec.files:
        dest = root / remote.filename
        if _verified(dest, remote):
            done += remote.size
            if progress is not None:
                progress(done, total, remote.filename)
            continue
        url = base_url.rstrip("/") + "/" + remote.filename if base_url else remote.url
        _fetch(remote, url, dest, done, total, progress, stop_event)
        done += remote.size
    if spec.kind == "cifar10-tar" and not _needed_present(spec, root):
        archive = root / spec.files[0].filename
        safe_extract_tar(archive, root)
        if not _needed_present(spec, root):
            raise DataError(f"{archive.name}: the archive does not hold the expected CIFAR-10 batch files")
    return root
