"""One retrain at a time per work folder: WORKDIR/retrain.lock.

A run beside another (a manual one while the scheduled one works) would delete the other's
half-written batch and race it to state.json. The lock is the kernel's advisory file lock
(flock), so it is released when its process ends however it ends, and a killed run never
leaves a stale lock behind. The file records who holds it, for the refusal message.
It protects runs on one machine's file system; see docs/retrain.md for shared mounts.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket

from pipelines.retrain.registry import now

LOCK_FILE = "retrain.lock"


class WorkdirBusy(RuntimeError):
    """Another retrain holds the work folder."""


@contextlib.contextmanager
def workdir_lock(workdir: str):
    """Holds WORKDIR's lock for the `with` body; WorkdirBusy when another run holds it."""
    os.makedirs(workdir, exist_ok=True)
    path = os.path.join(workdir, LOCK_FILE)
    handle = open(path, "a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise WorkdirBusy(f"the work folder {workdir!r} is in use by another lipflow retrain "
                          f"({holder}); wait for it to finish, then run again") from None
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()} since {now()}\n")
        handle.flush()
        yield path
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
