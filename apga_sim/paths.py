"""Output paths checked before anything is written, and results read with clean errors.

Commands refuse an output path that is too long, holds a NUL byte, lies below a file, or whose
nearest existing folder takes no new file, before they compute anything: a run never dies at its
end because its folder cannot be made. Reading results that are partial or corrupt gives one
:class:`~apga_sim.scenario.ScenarioError` naming the file, not a library traceback.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from apga_sim.scenario import ScenarioError

MAX_PATH = 4000
"""Longest output path (Linux allows 4096 bytes, and run folders add their own parts)."""
MAX_COMPONENT = 255
"""Longest name of one folder or file (bytes, as file systems count)."""


def check_output(path: Path, flag: str, folder: bool = True) -> Path:
    """Return ``path`` if a command can create or write it, else raise naming ``flag``.

    Args:
        path: The folder (or file, with ``folder=False``) to be written.
        flag: The option or argument that gave it, for the message.
        folder: Whether ``path`` must be a folder (an existing file is then refused).

    Raises:
        ScenarioError: the path is too long, holds a NUL byte, is a file where a folder is
            needed (or a folder where a file is), lies below a file, or cannot be written.

    """
    check_length(path, flag)
    if path.exists() and path.is_dir() != folder:
        what = "is a folder" if path.is_dir() else "exists and is not a folder"
        raise ScenarioError(f"{flag}: {path} {what}")
    start = path if folder else path.absolute().parent  # a file may exist: it is replaced
    existing = next(p for p in (start, *start.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise ScenarioError(f"{flag}: {existing} is a file, so {path} cannot be made below it")
    try:  # a file made, not os.access: mode bits let root "write" to /proc
        tempfile.TemporaryFile(dir=existing).close()  # gone once closed: nothing is left
    except OSError:
        raise ScenarioError(f"{flag}: {existing} is not writable") from None
    return path


def check_length(path: Path, flag: str) -> Path:
    """Return ``path`` if the file system can hold its name, else raise naming ``flag``."""
    text = os.fsencode(path)
    if b"\0" in text:
        raise ScenarioError(f"{flag}: the path holds a NUL byte")
    if len(text) > MAX_PATH or any(len(os.fsencode(p)) > MAX_COMPONENT for p in path.parts):
        raise ScenarioError(
            f"{flag}: path too long (at most {MAX_PATH} bytes, {MAX_COMPONENT} per name)"
        )
    return path


@contextlib.contextmanager
def reading(what: Path | str) -> Iterator[None]:
    """Turn errors of reading partial or corrupt results into one message naming ``what``."""
    import pyarrow as pa

    try:
        yield
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException) as exc:
        if isinstance(exc, ScenarioError):
            raise
        raise ScenarioError(f"{what}: cannot read the results: {_reason(exc)}") from None


@contextlib.contextmanager
def writing(what: Path | str) -> Iterator[None]:
    """Turn errors of writing (read-only, vanished or full folders) into one message."""
    try:
        yield
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise ScenarioError(f"{what}: no space left on the device; nothing kept") from None
        raise ScenarioError(f"{what}: cannot write: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    """One short line about ``exc``."""
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror}{where}"
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
