"""Paths that may be local or remote (gs:// and any Beam file system), in one place.

Local paths keep the os module's behaviour (and speed); a URL goes through Beam's
FileSystems. Object stores have no folders: a remote path is a folder when some object
lies under it, and a folder's contents are derived from one recursive listing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile


def is_remote(path: str) -> bool:
    return "://" in path


def _fs():
    from apache_beam.io.filesystems import FileSystems

    return FileSystems


def walk_files(root: str) -> list[str]:
    """Every file under `root`, recursively, sorted by folder then name."""
    if not is_remote(root):
        paths = []
        for folder, dirs, names in os.walk(root):
            dirs.sort()
            paths.extend(os.path.join(folder, name) for name in sorted(names))
        return paths
    prefix = root.rstrip("/") + "/"
    matched = _fs().match([prefix + "**"])[0].metadata_list
    return sorted((m.path for m in matched if not m.path.endswith("/")),
                  key=lambda p: (p.rsplit("/", 1)[0], p))


def is_dir(path: str) -> bool:
    if not is_remote(path):
        return os.path.isdir(path)
    return bool(_fs().match([path.rstrip("/") + "/**"], limits=[1])[0].metadata_list)


def is_file(path: str) -> bool:
    if not is_remote(path):
        return os.path.isfile(path)
    return _fs().exists(path) and not path.endswith("/")


def subfolders(folder: str) -> list[str]:
    """The folders directly inside `folder`, sorted ([] when it is not one)."""
    if not is_remote(folder):
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            return []
        return [os.path.join(folder, n) for n in names if os.path.isdir(os.path.join(folder, n))]
    prefix = folder.rstrip("/") + "/"
    inside = {p[len(prefix):].split("/", 1)[0] for p in walk_files(folder)
              if "/" in p[len(prefix):]}
    return [prefix + name for name in sorted(inside)]


def list_files(folder: str) -> list[str]:
    """The files directly inside `folder`."""
    if not is_remote(folder):
        return [os.path.join(folder, n) for n in os.listdir(folder)]
    prefix = folder.rstrip("/") + "/"
    return [p for p in walk_files(folder) if "/" not in p[len(prefix):]]


def read_text(path: str, encoding: str = "utf-8-sig") -> str:
    if not is_remote(path):
        with open(path, encoding=encoding) as handle:
            return handle.read()
    with _fs().open(path) as handle:
        return handle.read().decode(encoding)


def normalise(path: str) -> str:
    """os.path.normpath for local paths; a URL as given (normpath would turn gs:// into
    gs:/)."""
    return path if is_remote(path) else os.path.normpath(path)


@contextlib.contextmanager
def local_copy(path: str):
    """A local path for `path`: itself if local, else a temporary copy, deleted on exit."""
    if not is_remote(path):
        yield path
        return
    with tempfile.NamedTemporaryFile(suffix=os.path.splitext(path)[1]) as local:
        with _fs().open(path) as remote:
            shutil.copyfileobj(remote, local)
        local.flush()
        yield local.name


class LocalCopies:
    """Local copies of remote files for a stage that visits one video many times (once per
    chunk): each is downloaded once and kept until `clear()`, which a DoFn calls at the end
    of each bundle (its work item) and at teardown. Local paths are used in place."""

    def __init__(self):
        self._folder: str | None = None
        self._copies: dict[str, str] = {}
        self.downloads = 0

    def path(self, path: str) -> str:
        if not is_remote(path):
            return path
        if path not in self._copies:
            if self._folder is None:
                self._folder = tempfile.mkdtemp(prefix="lipflow-copies-")
            local = os.path.join(self._folder, f"{len(self._copies)}{os.path.splitext(path)[1]}")
            with _fs().open(path) as remote, open(local, "wb") as handle:
                shutil.copyfileobj(remote, handle)
            self._copies[path] = local
            self.downloads += 1
        return self._copies[path]

    def clear(self) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
        self._folder, self._copies = None, {}
