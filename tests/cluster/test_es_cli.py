"""``unicat es start --nodes 2`` / ``status`` / ``stop``: a local cluster through the command line."""

from __future__ import annotations

import random
import shutil
import tempfile
from pathlib import Path

from typer.testing import CliRunner

from unicat.cli import app
from unicat.localsvc.process import port_open
from unicat.settings import Settings


def _free_block() -> int:
    """A first HTTP port P with P, P+1 and the transport ports P+100, P+101 all free."""
    for _ in range(200):
        first = random.randrange(20000, 30000)
        if not any(port_open("127.0.0.1", p) for p in (first, first + 1, first + 100, first + 101)):
            return first
    raise RuntimeError("no free block of ports")


def test_es_start_two_nodes_status_lists_both_and_stop_ends_both() -> None:
    base = Path(tempfile.mkdtemp(prefix="unicat-test-escli-"))
    base.chmod(0o755)  # the nodes run as their own user
    var = base / "var"
    (var / "es").mkdir(parents=True)
    # the server distribution already unpacked for this checkout, not a second copy
    (var / "es" / "dist").symlink_to(Path(Settings().var_dir) / "es" / "dist")
    first = _free_block()
    env = {"UNICAT_VAR_DIR": str(var), "UNICAT_ES_PORT": str(first), "UNICAT_ES_URL": f"http://127.0.0.1:{first}"}
    runner = CliRunner()
    try:
        started = runner.invoke(app, ["es", "start", "--nodes", "2"], env=env)
        said = " ".join(started.output.split())
        assert started.exit_code == 0, said
        assert f"UNICAT_ES_URL=http://127.0.0.1:{first},http://127.0.0.1:{first + 1}" in said
        status = runner.invoke(app, ["es", "status"], env=env)
        lines = status.output.splitlines()
        nodes = [line for line in lines if line.startswith("node=")]
        assert len(nodes) == 2 and all("answering=True" in line for line in nodes), status.output
        assert sum("master=True" in line for line in nodes) == 1
        assert any(line.startswith("cluster_status: green") for line in lines), status.output
    finally:
        stopped = runner.invoke(app, ["es", "stop"], env=env)
    assert "stopped 2 node(s)" in stopped.output
    shutil.rmtree(base, ignore_errors=True)
    assert not port_open("127.0.0.1", first) and not port_open("127.0.0.1", first + 1)
