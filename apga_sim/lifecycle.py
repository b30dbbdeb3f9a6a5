"""Worker processes that never outlive the command that started them, and Ray connections.

A worker process of ``--jobs N`` calls :func:`die_with_parent` when it starts: on Linux the
kernel kills it when its parent dies (``PR_SET_PDEATHSIG``), and a watcher thread also ends it
within a second of being orphaned (other systems, or a parent killed before the call). A
killed run leaves only its temporary folder, which the next run of it removes.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from typing import Any

PR_SET_PDEATHSIG = 1
POLL_SECONDS = 1.0


def die_with_parent(parent: int) -> None:
    """End this process as soon as process ``parent`` (its parent) is gone."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the watcher below still ends it
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


def init_ray(address: str | None, **options: Any) -> None:
    """Connect to the Ray cluster at ``address``, or start a local instance (``None``).

    Raises:
        ConnectionError: Ray is missing, or cannot start or reach ``address`` (one line).

    """
    try:
        import ray
    except ImportError:
        raise ConnectionError("Ray is not installed: pip install 'apga-sim[ray]'") from None
    if ray.is_initialized():
        return
    try:
        if address is None:
            ray.init(include_dashboard=False, log_to_driver=False, **options)
        else:
            ray.init(address=address, log_to_driver=False)
    except Exception as exc:  # Ray raises many kinds for a bad or unreachable address
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        where = "start a local Ray instance" if address is None else f"reach Ray at {address!r}"
        raise ConnectionError(f"cannot {where}: {reason}") from None
