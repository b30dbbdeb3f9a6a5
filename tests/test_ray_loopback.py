"""A local Ray instance (``--ray local``) listens on loopback only."""

from __future__ import annotations

import ipaddress
import os
import threading
from pathlib import Path

import pytest

from apga_sim.runner import run_many
from apga_sim.scenario import load_scenario
from apga_sim.sweep import specs

ray = pytest.importorskip("ray")
import psutil  # noqa: E402  (Ray ships it in ray/thirdparty_files, on sys.path once imported)

QUICK = Path(__file__).parent.parent / "scenarios" / "quick"


def is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:127.0.0.1, a dual-stack socket
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)


def listening() -> set[tuple[str, str, int]]:
    """(process name, address, port) of every listening TCP socket of this process's tree.

    The driver is this process; Ray's GCS, raylet, agents and monitors are its children and
    the workers the raylet's.
    """
    me = psutil.Process(os.getpid())
    found = set()
    for proc in [me, *me.children(recursive=True)]:
        try:
            name, conns = proc.name(), proc.net_connections(kind="tcp")
        except psutil.Error:  # ended meanwhile
            continue
        found |= {(name, *c.laddr) for c in conns if c.status == psutil.CONN_LISTEN}
    return found


def test_local_ray_listens_on_loopback_only(tmp_path):
    assert not ray.is_initialized()
    s = load_scenario(QUICK / "streaming_availability.yaml")
    runs = specs(s, tmp_path)
    seen: set[tuple[str, str, int]] = set()
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.5):
            seen.update(listening())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        manifests = run_many(runs, ray="local")  # starts Ray as `apga-sim run --ray local` does
        stop.set()
        sampler.join()
        seen.update(listening())  # the workers are still up, idle
    finally:
        stop.set()
        ray.shutdown()
    assert [m["status"] for m in manifests] == ["complete"] * len(runs)
    names = {name for name, _, _ in seen}
    assert {"gcs_server", "raylet"} <= names, seen
    assert any(name.startswith("ray::") for name in names), seen  # a worker's gRPC server
    exposed = sorted(row for row in seen if not is_loopback(row[1]))
    assert not exposed, f"listening beyond loopback: {exposed}"


def test_an_address_nobody_answers_at_fails_at_once_naming_ray(quick_yaml, tmp_path):
    from test_cli import GOOD, run

    out = tmp_path / "out"
    res = run("run", str(quick_yaml(GOOD)), "--ray", "127.0.0.1:1", "--out", str(out))
    assert res.exit_code == 2, res.output
    assert "--ray: cannot reach Ray at '127.0.0.1:1': nothing answers there" in res.output
    assert not out.exists() and not ray.is_initialized()
