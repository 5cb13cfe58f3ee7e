"""Masters from a folder on local disk (or a mounted network share)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import BinaryIO

import pyvips

from iiif_server.caches.lru import SizedLRU
from iiif_server.errors import StoreUnavailable
from iiif_server.identifiers import check_identifier, resolve_master_path
from iiif_server.sources.base import Fingerprint, Master

# Resolving an identifier tries each suffix and follows symlinks: tens of system calls. A resolved
# path is kept and proven current with two stats (file, folder) per request; the folder's mtime
# changes when a master is added beside it, which may change which suffix wins.
RESOLVED_PATHS_KEPT = 65_536
# Master files whose descriptors a worker keeps open (not libvips' opened levels, which
# open_masters_per_worker bounds): a viewer's tiles come from a few masters at a time, and a stored
# tile read through a kept descriptor is one pread instead of open, pread and close.
DESCRIPTORS_KEPT = 128


# File systems on this machine's own disks or memory: a read there returns or fails, it does not
# wait on a server. Any other type (nfs, cifs, fuse.*, 9p, ceph, ...) may hang with its server.
LOCAL_FILE_SYSTEMS = frozenset({
    "ext2", "ext3", "ext4", "xfs", "btrfs", "zfs", "f2fs", "jfs", "reiserfs", "bcachefs", "tmpfs", "ramfs",
    "overlay", "squashfs", "iso9660", "vfat", "exfat", "ntfs3",
    # the kernel's own, mounted below / on every machine
    "proc", "sysfs", "devtmpfs", "devpts", "cgroup", "cgroup2", "mqueue", "debugfs", "tracefs", "securityfs",
    "pstore", "bpf", "hugetlbfs", "configfs", "fusectl", "binfmt_misc",
})
UNKNOWN_FILE_SYSTEM = "unknown"
_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


class FileSystemSource:
    """Masters below ``root``. The root's real path is resolved once, here: resolving it again for
    every identifier not seen before took a system call per folder from / (README, *Where a
    request's Python time goes*). A root that is a symlink re-pointed elsewhere takes a restart."""

    def __init__(self, root: Path) -> None:
        self.real_root = os.path.realpath(root)
        self.reads_may_hang = not all(kind in LOCAL_FILE_SYSTEMS for kind in file_systems_under(root))
        self._resolved: SizedLRU[tuple[str, int]] = SizedLRU(RESOLVED_PATHS_KEPT)  # identifier -> (path, folder mtime)
        # By location and fingerprint: a master replaced on disk is opened anew.
        self._descriptors: SizedLRU[MasterDescriptor] = SizedLRU(DESCRIPTORS_KEPT)

    def locate(self, identifier: str) -> Master:
        known = self._resolved.get(identifier)
        if known is not None:
            path, folder_mtime_ns = known
            try:
                stat = os.stat(path)
                current = os.stat(self._folder_of(identifier)).st_mtime_ns == folder_mtime_ns
            except OSError:
                current = False
            if current:
                return _master(identifier, path, stat)
        check_identifier(identifier)
        try:
            # Read before resolving: a master added meanwhile then fails the next check.
            folder_mtime_ns: int | None = os.stat(self._folder_of(identifier)).st_mtime_ns
        except OSError:
            folder_mtime_ns = None
        path, stat = resolve_master_path(self.real_root, identifier)
        if folder_mtime_ns is not None:
            self._resolved.put(identifier, (path, folder_mtime_ns))
        return _master(identifier, path, stat)

    def _folder_of(self, identifier: str) -> str:
        """The folder the identifier names (where a competing master would appear), not the
        folder a symlinked master points into."""
        return os.path.join(self.real_root, *identifier.split("/")[:-1])

    def open_bytes(self, master: Master) -> BinaryIO:
        key = (master.location, master.fingerprint)
        descriptor = self._descriptors.get(key)
        if descriptor is None:
            descriptor = MasterDescriptor(os.open(master.location, os.O_RDONLY | os.O_CLOEXEC))
            self._descriptors.put(key, descriptor)
        return PositionalFile(descriptor)  # type: ignore[return-value]

    def load_image(self, master: Master, **load_options: object) -> pyvips.Image:
        return pyvips.Image.new_from_file(master.location, **load_options)

    def read_ahead(self, master: Master, ranges: list[tuple[int, int]]) -> None:
        """Local reads cost no round trip: nothing to read ahead."""

    def local_path(self, master: Master) -> str | None:
        return master.location

    def store_failure_since(self, moment: float) -> StoreUnavailable | None:
        """Local reads have no store to fail."""
        return None


class MasterDescriptor:
    """A master's open file descriptor, closed when neither the source's kept descriptors nor a
    reader hold it any more: a reader of a master the source lets go of reads on undisturbed.
    Given the number, not the path: an open that fails (a master removed since its lookup) then
    leaves no half-made object whose finaliser would report a missing number."""

    __slots__ = ("number",)

    def __init__(self, number: int) -> None:
        self.number = number

    def __del__(self) -> None:
        os.close(self.number)


class PositionalFile:
    """A master opened for reading at offsets: ``seek`` only moves a position, each ``read`` is one
    pread. An info.json reads a TIFF's directories in 9 or 10 short reads, a stored tile is one;
    a buffered file pays two system calls a read (lseek, read) and three to open (fstat, ioctl,
    lseek). Every system call hands the GIL over, and with the worker's threads all busy each
    handover is a wait for another thread's turn: with 4 threads answering new info.json
    documents, 20 handovers a request doubled its time (README, *Where a request's Python time
    goes*)."""

    __slots__ = ("held", "descriptor", "position")

    def __init__(self, held: MasterDescriptor) -> None:
        self.held: MasterDescriptor | None = held
        self.descriptor = held.number
        self.position = 0

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence != os.SEEK_SET or offset < 0:
            raise ValueError("a master is read at absolute offsets only")
        self.position = offset
        return offset

    def tell(self) -> int:
        return self.position

    def read(self, size: int) -> bytes:
        data = os.pread(self.descriptor, size, self.position)
        # A network file system may return a read short of the end: read on until the end.
        while 0 < len(data) < size:
            more = os.pread(self.descriptor, size - len(data), self.position + len(data))
            if not more:
                break
            data += more
        self.position += len(data)
        return data

    def close(self) -> None:
        self.held = None  # the descriptor closes with its last holder
        self.descriptor = -1

    def __enter__(self) -> PositionalFile:
        return self

    def __exit__(self, *_exception: object) -> None:
        self.close()


def _master(identifier: str, path: str, stat: os.stat_result) -> Master:
    return Master(
        identifier=identifier,
        location=path,
        suffix=os.path.splitext(path)[1].lower(),
        fingerprint=Fingerprint(size=stat.st_size, mtime_ns=stat.st_mtime_ns),
    )


def file_systems_under(root: Path, mountinfo: str | None = None) -> set[str]:
    """The types of the file system ``root`` lies on and of every one mounted below it (a share
    mounted inside the image root), from /proc/self/mountinfo (``mountinfo``: its text, for tests)."""
    if mountinfo is None:
        try:
            mountinfo = Path("/proc/self/mountinfo").read_text(encoding="utf-8")
        except OSError:
            mountinfo = ""  # no mount table to read: nothing is known to be local
    target = os.path.realpath(root)
    containing, kinds_below = ("", ""), set()
    for line in mountinfo.splitlines():
        # "36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw": the mount point is
        # the 5th field (octal escapes for spaces), the type the first after the "-" separator.
        fields = line.split()
        if "-" not in fields or len(fields) < 5:
            continue
        point = _OCTAL_ESCAPE.sub(lambda match: chr(int(match[1], 8)), fields[4])
        kind = fields[fields.index("-") + 1]
        if point == target or point.startswith(target.rstrip("/") + "/"):
            kinds_below.add(kind)
        if (target == point or target.startswith(point.rstrip("/") + "/")) and len(point) >= len(containing[0]):
            containing = (point, kind)
    return kinds_below | {containing[1] or UNKNOWN_FILE_SYSTEM}
