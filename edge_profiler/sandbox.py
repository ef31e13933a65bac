"""Run one measurement in a fresh, resource-limited subprocess.

TensorFlow's security policy (SECURITY.md, "untrusted models") advises running untrusted models in
a sandbox. Each model here gets its own ``python -m edge_profiler._worker`` process with
``RLIMIT_AS`` (address space) and a wall-clock limit, in its own session so a hang is killed with
its threads. The exit status becomes a structured :class:`ProfilerError`: ``crashed`` with the
signal, ``timeout``, ``out_of_memory`` or ``rejected``.

The agent owns its children: the worker asks Linux for SIGKILL when its parent dies
(``prctl(PR_SET_PDEATHSIG)``, prctl(2)), so a killed agent leaves no measurement running that
could overlap the next agent's first one. Work folders are named ``edge-profiler-work-<agent
pid>-*``; :func:`remove_stale_workdirs` (run by a starting agent) removes those of dead agents.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from edge_profiler.errors import ProfilerError
from edge_profiler.modelcheck import check_tflite
from edge_profiler.params import MeasureParams

logger = logging.getLogger(__name__)

#: The module run as the measurement subprocess (``python -m``); tests substitute a crashing one.
WORKER_MODULE = "edge_profiler._worker"
_PACKAGE_PARENT = str(Path(__file__).resolve().parent.parent)
#: Work folders are ``<tempdir>/edge-profiler-work-<pid of the measuring process>-<random>``.
WORKDIR_PREFIX = "edge-profiler-work-"
#: Environment variable telling the worker which pid must stay its parent (see ``_worker``).
PARENT_PID_ENV = "EDGE_PROFILER_PARENT_PID"
_OOM_HINTS = ("std::bad_alloc", "MemoryError", "Cannot allocate memory", "out of memory", "failed to allocate")


@dataclasses.dataclass(frozen=True)
class SandboxLimits:
    """Limits of one measurement subprocess."""

    memory_limit_mb: int = 2048
    timeout_s: float = 300.0
    runtime: str = "auto"

    def __post_init__(self) -> None:
        if self.memory_limit_mb < 256:
            raise ValueError(f"memory_limit_mb={self.memory_limit_mb} is too small; the runtime alone "
                             "reserves ~170 MB of address space")
        if self.timeout_s <= 1:
            raise ValueError(f"timeout_s={self.timeout_s} must be above 1 second")

    @property
    def max_measure_seconds(self) -> float:
        """Timed runs stop after this long, leaving time for start-up within the wall-clock limit."""
        return max(1.0, 0.8 * self.timeout_s - 2.0)


def _stderr_tail(path: Path, limit: int = 2000) -> str:
    try:
        text = path.read_bytes()[-limit:].decode("utf-8", "replace")
    except OSError:
        return ""
    # The runtime's own chatter (INFO: Created TensorFlow Lite XNNPACK delegate) is noise here.
    return "\n".join(line for line in text.splitlines() if not line.startswith("INFO:")).strip()


def run_in_subprocess(model: bytes, params: MeasureParams, limits: SandboxLimits) -> dict[str, Any]:
    """Measure ``model`` in a fresh worker process; return the worker's result dict.

    The dict gains ``subprocess_ms`` (the worker's whole life, from spawn to exit).
    """
    check_tflite(model)
    workdir = Path(tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-"))
    try:
        (workdir / "model.tflite").write_bytes(model)
        (workdir / "request.json").write_text(json.dumps({
            "params": params.to_json(),
            "runtime": limits.runtime,
            "max_seconds": limits.max_measure_seconds,
            "memory_limit_bytes": limits.memory_limit_mb * 2**20,
        }))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_PARENT, env.get("PYTHONPATH")) if p)
        env[PARENT_PID_ENV] = str(os.getpid())
        stderr_path = workdir / "stderr.txt"
        start = time.perf_counter()
        with open(stderr_path, "wb") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", WORKER_MODULE, str(workdir)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
                env=env, cwd=workdir, start_new_session=True,
            )
            try:
                returncode = process.wait(timeout=limits.timeout_s)
            except subprocess.TimeoutExpired:
                _kill_group(process)
                raise ProfilerError(
                    "timeout", f"the measurement did not finish within {limits.timeout_s:g} s and was killed",
                    detail={"timeout_s": limits.timeout_s}) from None
        subprocess_ms = (time.perf_counter() - start) * 1000.0
        result_path = workdir / "result.json"
        if result_path.exists():
            payload = json.loads(result_path.read_text())
            if not payload.get("ok"):
                raise ProfilerError.from_json(payload)
            result = payload["result"]
            result["subprocess_ms"] = subprocess_ms
            return result
        raise _classify_exit(returncode, _stderr_tail(stderr_path), limits)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def remove_stale_workdirs(root: Path | None = None) -> list[Path]:
    """Remove the work folders of processes that no longer exist; returns the folders removed."""
    root = Path(root or tempfile.gettempdir())
    removed = []
    for path in root.glob(WORKDIR_PREFIX + "*"):
        pid_text = path.name[len(WORKDIR_PREFIX):].split("-", 1)[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid() or _pid_alive(int(pid_text)):
            continue
        if path.is_dir() and not path.is_symlink() and path.stat().st_uid == os.getuid():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def _classify_exit(returncode: int, stderr: str, limits: SandboxLimits) -> ProfilerError:
    if any(hint.lower() in stderr.lower() for hint in _OOM_HINTS):
        return ProfilerError(
            "out_of_memory", f"the interpreter ran out of memory under the {limits.memory_limit_mb} MB limit",
            detail={"returncode": returncode, "stderr": stderr[-500:]})
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return ProfilerError("crashed", f"the interpreter crashed with {name}",
                             detail={"signal": name, "signal_number": -returncode, "stderr": stderr[-500:]})
    return ProfilerError("crashed", f"the measurement process exited with status {returncode} without a result",
                         detail={"returncode": returncode, "stderr": stderr[-500:]})
