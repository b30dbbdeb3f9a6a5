"""Worker processes that never outlive the command that started them, and Ray connections.

A worker process of ``--jobs N`` calls :func:`die_with_parent` when it starts: on Linux the
kernel kills it when its parent dies (``PR_SET_PDEATHSIG``), and a watcher thread also ends it
within a second of being orphaned (other systems, or a parent killed before the call). A
killed run leaves only its temporary folder, which the next run of it removes.

SIGTERM (``kill``, or a batch scheduler at the end of a job's time) stops a command as Ctrl-C
does (:func:`stop_on_sigterm`): finished runs are kept and a study records its stopped
invocation. Worker processes ignore it and leave the stopping to their parent, so a SIGTERM to
the whole process group takes that one path too.

A local Ray instance (:func:`init_ray` without an address) listens on loopback only.
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

PR_SET_PDEATHSIG = 1
POLL_SECONDS = 1.0


def stop_on_sigterm() -> None:
    """Make SIGTERM raise ``KeyboardInterrupt`` in this process, as Ctrl-C does."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)


def die_with_parent(parent: int) -> None:
    """End this process as soon as process ``parent`` (its parent) is gone; ignore SIGTERM."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
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


def _reachable(address: str, timeout: float = 5.0) -> None:
    """Refuse a ``host:port`` (or ``ray://host:port``) nobody listens on within ``timeout`` s.

    Ray itself retries an unreachable address for a long time, logging warnings.
    """
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto" and other forms are Ray's to read
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ConnectionError(f"nothing answers there ({exc.strerror or exc})") from None


def init_ray(address: str | None, **options: Any) -> None:
    """Connect to the Ray cluster at ``address``, or start a local instance (``None``).

    A local instance is always a new one (``RAY_ADDRESS`` and clusters of ``ray start`` are
    ignored) and every one of its services listens on loopback only: see :func:`_loopback_only`.

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
            with _loopback_only():
                ray.init(address="local", include_dashboard=False, log_to_driver=False, **options)
            node_ip = ray.util.get_node_ip_address()
            if not ipaddress.ip_address(node_ip).is_loopback:
                ray.shutdown()
                raise RuntimeError(f"it took the node address {node_ip}, not loopback")
        else:
            _reachable(address)
            ray.init(address=address, log_to_driver=False)
    except Exception as exc:  # Ray raises many kinds for a bad or unreachable address
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        where = "start a local Ray instance" if address is None else f"reach Ray at {address!r}"
        raise ConnectionError(f"cannot {where}: {reason}") from None


@contextlib.contextmanager
def _loopback_only() -> Iterator[None]:
    """Make the Ray instance that ``ray.init`` starts inside listen on 127.0.0.1 only.

    Ray picks its bind addresses from the node's IP address. With ``127.0.0.1`` every server
    listens on loopback: the gRPC servers of the GCS, the raylet (node and object managers)
    and each worker and driver (Ray's C++ passes ``listen_to_localhost_only = node_ip_address
    == "127.0.0.1"``), the dashboard agent, dashboard head metrics and autoscaler monitor
    (``is_localhost(node_ip)``) and the runtime-env agent (the node address itself). With
    any other address they listen on every interface. ``ray.init`` takes the address of the
    default route, and turns even ``_node_ip_address="127.0.0.1"`` into it
    (``ray._private.services.resolve_ip_for_localhost``), unless
    ``ray._private.ray_constants.ENABLE_RAY_CLUSTER`` is false: Ray's single-machine mode
    (default on macOS and Windows), where ``services.get_node_ip_address`` gives 127.0.0.1.
    That flag is read from ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER`` when Ray is imported, so it
    is set here instead, only while ``ray.init`` runs: the processes Ray starts get the node
    address on their command lines. ``tests/test_ray_loopback.py`` checks the sockets.
    """
    from ray._private import ray_constants

    if not hasattr(ray_constants, "ENABLE_RAY_CLUSTER"):  # the caller's check then fails
        yield
        return
    saved = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved
