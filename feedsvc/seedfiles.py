"""The seeds folder: which files are documents, and reading them safely.

This is the only module that opens seed files. Everything that could hang or escape the folder
(FIFOs, device files, symbolic links leading elsewhere, huge files) is turned into a plain reason.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SeedFile:
    """One entry of the seeds folder; ``problem`` is set when it cannot be read as a document."""

    name: str
    size: int
    mtime_ns: int
    problem: str | None = None

    @property
    def signature(self) -> tuple[int, int]:
        return self.size, self.mtime_ns


Signature = tuple[str, int, int]  # name, size, mtime_ns
SUB_FOLDER = "a folder: documents are read only directly in the seeds folder, not in sub-folders"
NOT_TXT = "not a .txt file; only *.txt files are documents"
# Entries of the folder that are not documents at all (said, but not counted as documents).
NOT_DOCUMENTS = (SUB_FOLDER, NOT_TXT)


def is_document_name(name: str) -> bool:
    """Whether an entry of the folder is read as a document, by its name: ``*.txt``."""
    return name.lower().endswith(".txt")


class NoDocuments(FileNotFoundError):
    """The seeds folder holds no document at all where the index has articles: taken for a
    folder that is not there (a share not mounted, or mounted late: its mount point is an
    empty folder), as a missing folder is, and the index kept as it is. It wiped the site."""

    def __init__(self, folder: Path, articles: int, *, read: bool = False):
        """``read``: the folder's files were read and gave no article (a rebuild), rather than
        none listed."""
        found = "gave no article when read" if read else "holds no documents"
        super().__init__(
            errno.ENOENT,
            f"{folder} {found}, where the index has {articles:,} "
            f"article{'' if articles == 1 else 's'}: taken for "
            "a folder not mounted, and the index kept as it is (to publish none, delete the "
            "index)",
        )


def signature_batches(folder: Path, batch_size: int) -> Iterator[list[Signature]]:
    """(name, size, mtime_ns) of every candidate document in ``folder`` (not recursive), in
    lists of up to ``batch_size``, so that a scan of a million files never holds them all.

    Hidden files (editors' and atomic writers' temporaries) are not documents and are left out;
    sub-folders are listed (by their own modification time), so that describe() reports them: an
    operator who files documents by year must hear that they are not read. This is the whole
    cost of a rescan, so it does nothing else: describe() looks closer at the few names whose
    signature changed. Entries are looked up relative to an open descriptor of the folder, which
    spares the kernel walking the folder's path for each file (a third of the time at 100,000
    files).
    """
    batch: list[Signature] = []
    folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with os.scandir(folder_fd) as entries:
            for entry in entries:
                name = entry.name
                if name.startswith("."):
                    continue
                try:
                    info = entry.stat()  # follows symbolic links
                except OSError:
                    batch.append((name, 0, 0))  # a broken link: describe() says so
                    continue
                size = 0 if stat.S_ISDIR(info.st_mode) else info.st_size
                batch.append((name, size, info.st_mtime_ns))
                if len(batch) >= batch_size:
                    yield batch
                    batch = []
    finally:
        os.close(folder_fd)
    if batch:
        yield batch


def unlisted(folder: Path, names: Iterable[str]) -> Iterator[str]:
    """Those of ``names`` that signature_batches() would not list now (one stat each)."""
    folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for name in names:
            if name.startswith(".") or "/" in name:
                yield name
                continue
            try:
                os.lstat(name, dir_fd=folder_fd)  # a broken link or a sub-folder is listed too
            except FileNotFoundError:
                yield name
            except OSError:
                continue  # listed, with a signature describe() will explain
    finally:
        os.close(folder_fd)


def describe(folder: Path, names: Iterable[str], max_bytes: int) -> dict[str, SeedFile]:
    """The named entries of ``folder`` as documents, each with a problem if it can't be read.

    Names that are missing now or hidden are left out, as signature_batches() does.
    """
    root = folder.resolve()
    found = {}
    for name in names:
        if "/" in name or name.startswith("."):
            continue
        seed = _describe(root, name, max_bytes)
        if seed is not None:
            found[name] = seed
    return found


def _describe(root: Path, name: str, max_bytes: int) -> SeedFile | None:
    """One entry, with one system call for a plain file (this runs for every new document)."""
    path = os.path.join(root, name)
    try:
        entry = os.lstat(path)
    except OSError:  # gone since it was listed
        return None
    is_link = stat.S_ISLNK(entry.st_mode)
    try:
        info = os.stat(path) if is_link else entry  # a link is judged by what it leads to
    except OSError:
        return SeedFile(name, 0, 0, "broken symbolic link or unreadable entry")
    if stat.S_ISDIR(info.st_mode):
        return SeedFile(name, 0, info.st_mtime_ns, SUB_FOLDER)
    problem = None
    if not is_document_name(name):
        problem = NOT_TXT
    elif is_link and not _inside(root, Path(path)):
        problem = "symbolic link to a file outside the seeds folder"
    elif not stat.S_ISREG(info.st_mode):
        problem = "not a regular file"
    elif info.st_size > max_bytes:
        problem = (
            f"file is {info.st_size:,} bytes, over the limit of {max_bytes:,} "
            "(FEEDSVC_MAX_DOCUMENT_BYTES)"
        )
    return SeedFile(name, info.st_size, info.st_mtime_ns, problem)


def _inside(root: Path, path: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root)
    except (OSError, RuntimeError):  # a loop of links
        return False


def read(folder: Path, name: str, max_bytes: int) -> bytes:
    """The bytes of one document; raises OSError or ValueError with a plain reason."""
    # O_NONBLOCK: a FIFO swapped in after the scan must not block the indexer forever.
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW
    path = os.path.join(folder, name)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        # A symbolic link (O_NOFOLLOW): judged again where it is opened, as _describe judged
        # it, so that one swapped in after the scan saw a file cannot publish a file outside
        # the folder that the service can read.
        root, target = Path(folder).resolve(), os.path.realpath(path)
        if not _inside(root, Path(target)):
            raise ValueError("symbolic link to a file outside the seeds folder") from None
        fd = os.open(target, flags)
        # The path was judged, not what was opened: a folder on it may have been swapped for
        # a link since. Judge the file the descriptor holds (Linux names it in /proc).
        try:
            opened = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            opened = None
        if opened is not None and not Path(opened).is_relative_to(root):
            os.close(fd)
            raise ValueError("symbolic link to a file outside the seeds folder") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("not a regular file")
        # Ask for the size fstat gives (plus one byte to notice a file still growing): reading
        # max_bytes would allocate the whole limit for every small document.
        data = _read_up_to(fd, min(info.st_size, max_bytes) + 1)
        if len(data) > info.st_size:
            data += _read_up_to(fd, max_bytes + 1 - len(data))
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise ValueError(f"file grew over the limit of {max_bytes:,} bytes while being read")
    return data


def _read_up_to(fd: int, size: int) -> bytes:
    """Up to ``size`` bytes, fewer only at the end of the file."""
    # os.read on the descriptor: a buffered file object around it costs more than the read.
    data = os.read(fd, size)
    while len(data) < size and (more := os.read(fd, size - len(data))):
        data += more
    return data
