"""Real parts for the cluster tests: a PostgreSQL server and a two-node Ray cluster, both on 127.0.0.1.

``postgres``: Debian's ``postgresql`` (``.ci/run`` installs it); ``initdb`` + ``pg_ctl`` into a
temporary folder on a free port, password authentication (scram-sha-256) for user ``nas``, run as
the ``postgres`` user when the tests run as root (``initdb`` refuses root); stopped after. The
password is in a file named by ``$NAS_STORAGE_PASSWORD_FILE`` for every process, Ray's nodes included.

``ray_cluster``: ``ray.cluster_utils.Cluster``, a head and a second node of one CPU each (each node
its own raylet and workers), joined by this process. In CI (``CI=true``) a missing part fails.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from nas.record.storage import PASSWORD_FILE_ENV

ROOT = Path(__file__).resolve().parents[3]
DB_USER, DB_NAME = "nas", "nas"


def _missing(what: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} (CI installs it: .ci/run)")
    pytest.skip(what)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


class PostgresServer:
    """One throw-away PostgreSQL server; ``url`` holds no password (it is in ``password_file``)."""

    def __init__(self, root: Path, port: int, password: str) -> None:
        self.root, self.port, self.password = root, port, password
        self.data = root / "data"
        self.password_file = root / "password"
        self.url = f"postgresql://{DB_USER}@127.0.0.1:{port}/{DB_NAME}"

    def _run(self, *args: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        pwfile = self.root / "initdb-pw"
        pwfile.write_text(self.password)
        self._run(_pg_bin("initdb"), "-D", str(self.data), "-U", DB_USER, "--auth=scram-sha-256",
                  f"--pwfile={pwfile}", "--no-sync", "-E", "UTF8")
        pwfile.unlink()
        options = f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c max_connections=200"
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start")
        env = {**os.environ, "PGPASSWORD": self.password}
        subprocess.run([_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", DB_USER, DB_NAME],
                       check=True, capture_output=True, env=env, timeout=60)
        self.password_file.write_text(self.password + "\n")
        self.password_file.chmod(0o600)

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def new_database(self, name: str) -> str:
        """A fresh database on this server (one per test); its URL, without the password."""
        env = {**os.environ, "PGPASSWORD": self.password}
        subprocess.run([_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", DB_USER, name],
                       check=True, capture_output=True, env=env, timeout=60)
        return f"postgresql://{DB_USER}@127.0.0.1:{self.port}/{name}"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    if _pg_bin("initdb") is None or _pg_bin("pg_ctl") is None:
        _missing("PostgreSQL server binaries (Debian package postgresql) are not installed")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            _missing("no 'postgres' user to run initdb as (root may not)")
    root = Path(tempfile.mkdtemp(prefix="nas-pg-"))
    root.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    # A password of letters that appear nowhere else, so a grep for it cannot match by chance.
    server = PostgresServer(root, _free_port(), "pw" + secrets.token_hex(12))
    server.start()
    previous = os.environ.get(PASSWORD_FILE_ENV)
    os.environ[PASSWORD_FILE_ENV] = str(server.password_file)  # inherited by the Ray nodes started after
    try:
        yield server
    finally:
        server.stop()
        if previous is None:
            os.environ.pop(PASSWORD_FILE_ENV, None)
        else:
            os.environ[PASSWORD_FILE_ENV] = previous
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def ray_cluster(postgres):
    """A two-node Ray cluster on 127.0.0.1 joined by this process: ``(cluster, worker_node)``."""
    try:
        import ray
        from ray.cluster_utils import Cluster
    except ImportError:
        _missing("ray is not installed (pip install 'edge-nas[cluster]')")
    if ray.is_initialized():
        ray.shutdown()
    # Node deaths noticed within seconds, not the default half minute.
    system_config = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 1000,
                     "health_check_failure_threshold": 3}
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False,
                                                            "_system_config": system_config})
    worker_node = cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    # Workers unpickle the fake evaluators: they import tests.* from the repository.
    ray.init(address=cluster.address, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
    try:
        yield cluster, worker_node
    finally:
        ray.shutdown()
        cluster.shutdown()
