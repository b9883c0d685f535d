"""A local folder as a Datastore (the LocalBackend's input, a mounted share, a folder downloaded by hand)."""
from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from tasks.datastore.base import BlobInfo, StorageError


class LocalFolder:
    """Files under `root`, recursively; the contents of hidden folders (a leading '.') are skipped."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.description = str(self.root)

    def list(self) -> list[BlobInfo]:
        """Every file under the root, sorted by relative name.

        Raises:
            StorageError: data_not_found when the root is missing or not a folder; storage_permission_denied when it
                cannot be read.
        """
        self._check_root()
        infos = []
        try:
            for path in self.root.rglob("*"):
                relative = path.relative_to(self.root)
                # Hidden folders are skipped; hidden files are listed, for preflight to say the job skips them.
                if any(part.startswith(".") for part in relative.parts[:-1]) or not path.is_file():
                    continue
                infos.append(self._info(path, relative.as_posix()))
        except PermissionError as exc:
            raise self._denied(exc) from None
        return sorted(infos, key=lambda info: info.name)

    def stat(self, name: str) -> BlobInfo:
        """One file's size and modification time."""
        path = self._path(name)
        if not path.is_file():
            raise StorageError(rule="file_not_found", category="data_not_found", detail=f"{path} does not exist",
                               fix="The file disappeared after it was listed; re-run preflight.")
        return self._info(path, name)

    def open_read(self, name: str) -> BinaryIO:
        """The file opened for binary reading."""
        return self._path(name).open("rb")

    def download(self, name: str, destination: Path) -> Path:
        """Copy the file to `destination`."""
        shutil.copyfile(self._path(name), destination)
        return destination

    def local_path(self, name: str) -> Path:
        """Where the file is: probes read it in place, with no copy."""
        return self._path(name)

    def child_folders(self, prefix: str) -> list[str]:
        """Folder names directly under root/prefix, hidden ones included; [] when that folder does not exist."""
        base = self.root / prefix if prefix else self.root
        try:
            return sorted(entry.name for entry in base.iterdir() if entry.is_dir())
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return []

    def _path(self, name: str) -> Path:
        # Checked on the name, not the resolved path: datasets are often folders of symlinks into a shared store.
        relative = PurePosixPath(name)
        if relative.is_absolute() or ".." in relative.parts:
            raise ValueError(f"{name!r} is not a file name inside {self.root}")
        return self.root / relative

    def _check_root(self) -> None:
        if not self.root.exists():
            raise StorageError(rule="folder_not_found", category="data_not_found", detail=f"{self.root} does not exist",
                               fix="Point the run at the folder that holds the videos.")
        if not self.root.is_dir():
            raise StorageError(rule="not_a_folder", category="data_not_found", detail=f"{self.root} is a file, not a folder",
                               fix="Point the run at the folder that holds the videos, not at one file.")

    @staticmethod
    def _info(path: Path, name: str) -> BlobInfo:
        stat = path.stat()
        return BlobInfo(name=name, size=stat.st_size, modified=datetime.fromtimestamp(stat.st_mtime, tz=timezone.utc))

    def _denied(self, exc: PermissionError) -> StorageError:
        return StorageError(rule="folder_permission_denied", category="storage_permission_denied", detail=str(exc),
                            fix=f"Give the user running ghostwatch read access to {self.root}.")
