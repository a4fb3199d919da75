"""The simulated serial line: a pseudo-terminal and a stable link to its device.

The Engine opens the link path as it would open /dev/ttyUSB0. The simulator
keeps its own descriptor of the slave side open for its whole life, so the
pty never hangs up when the Engine closes the port or is killed, and the
Engine can reopen the same path after a restart.
"""
from __future__ import annotations

import errno
import os
import tty
from pathlib import Path


class LinkError(Exception):
    """The link path cannot be made (occupied by something that is not a link)."""


class PtyLink:
    def __init__(self, link: Path):
        self.link = Path(link)
        self.master_fd, self._slave_fd = os.openpty()
        # Raw: every byte passes untouched (no echo, no CR/LF mapping, no
        # signals from 0x03), whichever program opens the slave later.
        tty.setraw(self._slave_fd)
        os.set_blocking(self.master_fd, False)
        self.device = os.ttyname(self._slave_fd)
        try:
            self._make_link()
        except BaseException:
            self._close_fds()
            raise

    def _make_link(self) -> None:
        if self.link.is_symlink():
            self.link.unlink()  # stale link from a simulator that did not clean up
        elif self.link.exists():
            raise LinkError(f"{self.link} exists and is not a symlink; not replacing it")
        if not self.link.parent.is_dir():
            raise LinkError(f"directory {self.link.parent} does not exist")
        os.symlink(self.device, self.link)

    def read(self) -> bytes:
        """What the Engine wrote since the last call (b"" if nothing)."""
        try:
            return os.read(self.master_fd, 4096)
        except BlockingIOError:
            return b""
        except OSError as exc:
            if exc.errno == errno.EIO:  # no slave open; cannot happen while we hold one
                return b""
            raise

    def write(self, data: bytes) -> int:
        """Send to the Engine; returns bytes dropped because nobody drains the line."""
        view = memoryview(data)
        while view:
            try:
                written = os.write(self.master_fd, view)
            except BlockingIOError:
                return len(view)
            view = view[written:]
        return 0

    def close(self) -> None:
        try:
            if self.link.is_symlink() and os.readlink(self.link) == self.device:
                self.link.unlink()
        except OSError:
            pass
        self._close_fds()

    def _close_fds(self) -> None:
        for fd in (self.master_fd, self._slave_fd):
            try:
                os.close(fd)
            except OSError:
                pass
