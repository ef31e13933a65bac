"""``make pi-check``: the Raspberry Pi agent proven on an emulated Raspberry Pi OS (64-bit).

Pi OS 64-bit is Debian 12 (bookworm) arm64. This builds (once, then reuses from
``.cache/pi-check/``) a Debian 12 arm64 root filesystem with ``debootstrap`` from the host's Debian
mirror, runs it under ``qemu-user-static`` through ``binfmt_misc`` (QEMU "User mode emulation")
as a Cortex-A72 (``QEMU_CPU=cortex-a72``, a Pi 4), and in it, with the guest's Python 3.11:

1. installs the project wheel with ``[agent,camera]``, pip resolving ai-edge-litert, NumPy and
   OpenCV for aarch64, and asserts TensorFlow is absent;
2. runs ``edge-profiler device`` and ``edge-profiler bench`` (XNNPACK must be *applied*);
3. runs ``edge-profiler serve`` and measures through it with ``RemoteProfiler`` from the host;
4. compares every tensor of an int8 model with the x86 interpreter (``tensors.py``): through
   XNNPACK (the agent's default) they must be bit-identical; the built-in kernels'
   (``use_xnnpack=False``) differences are reported, not failed: LiteRT's optimized int8 kernels
   requantize differently on arm64 NEON and x86, so off-by-one steps are expected there;
5. as a control, benchmarks once without the Pi-like CPU view: XNNPACK must then report *not
   applied* (its cpuinfo library finds no usable CPU and the interpreter silently keeps the
   built-in kernels, the failure ``xnnpack_applied`` exists to show).

Under emulation two things need the host's help: qemu-user ignores the guest's ``setrlimit`` of
the address space (it would limit QEMU itself), so the whole guest is capped from outside with a
memory cgroup; and the guest reads the host's /proc/cpuinfo (x86), so a Pi 4's /proc/cpuinfo and
/sys/devices/system/cpu are bound into the chroot. Needs root. Prints a verdict (``--json`` for
the full record) and exits 1 if any check failed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np

logger = logging.getLogger("pi_check")
REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SUITE = "bookworm"  # Raspberry Pi OS 64-bit (2023-) is based on Debian 12
GUEST_PACKAGES = "python3,python3-venv,python3-pip,ca-certificates"
GUEST_WORK = Path("/opt/pi-check")
GUEST_VENV = GUEST_WORK / "venv"
PI4_CORES, PI4_PART, PI4_BOARD, PI4_MAX_KHZ = 4, 0xD08, "Raspberry Pi 4 Model B Rev 1.4", 1_800_000


def run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess:
    logger.info("$ %s", " ".join(cmd))
    return subprocess.run(cmd, check=True, **kwargs)  # noqa: PLW1510 - check=True


def debian_mirror() -> str:
    """The host's own Debian mirror (its apt sources), unless PI_CHECK_MIRROR names one."""
    if os.environ.get("PI_CHECK_MIRROR"):
        return os.environ["PI_CHECK_MIRROR"]
    sources = Path("/etc/apt/sources.list.d").glob("*.sources")
    for path in [*sources, Path("/etc/apt/sources.list")]:
        text = path.read_text() if path.exists() else ""
        for word in text.split():
            if word.startswith("http") and word.rstrip("/").endswith("/debian"):
                return word
    raise SystemExit("error: no Debian mirror in the host's apt sources; set PI_CHECK_MIRROR")


def ensure_host_tools() -> None:
    """debootstrap and qemu-user-static (its binfmt_misc entries) from Debian's packages."""
    if not (shutil.which("debootstrap") and Path("/usr/libexec/qemu-binfmt/aarch64-binfmt-P").exists()):
        run(["apt-get", "update", "-qq"])
        run(["apt-get", "install", "-y", "-qq", "debootstrap", "qemu-user-static", "binfmt-support"],
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    binfmt = Path("/proc/sys/fs/binfmt_misc")
    if not (binfmt / "register").exists():
        run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(binfmt)])
    if not (binfmt / "qemu-aarch64").exists():
        run(["update-binfmts", "--enable", "qemu-aarch64"])


def ensure_rootfs(cache: Path) -> tuple[Path, float]:
    """The cached Debian 12 arm64 root filesystem; built with debootstrap when absent (seconds spent)."""
    rootfs = cache / f"rootfs-{SUITE}-arm64"
    if (rootfs / ".pi-check-complete").exists():
        return rootfs, 0.0
    start = time.monotonic()
    partial = cache / f"rootfs-{SUITE}-arm64.tmp"
    shutil.rmtree(partial, ignore_errors=True)
    log = cache / "debootstrap.log"
    logger.info("building the Debian %s arm64 root filesystem (minutes; log in %s)", SUITE, log)
    with log.open("w") as handle:
        run(["debootstrap", "--arch=arm64", "--variant=minbase", f"--include={GUEST_PACKAGES}", SUITE,
             str(partial), debian_mirror()], stdout=handle, stderr=subprocess.STDOUT)
    partial.rename(rootfs)
    (rootfs / ".pi-check-complete").write_text(f"{SUITE} arm64 {GUEST_PACKAGES}\n")
    return rootfs, time.monotonic() - start


def write_cpu_view(rootfs: Path) -> Path:
    """A Pi 4's /proc/cpuinfo (as 64-bit Pi OS prints it) and /sys/devices/system/cpu tree."""
    blocks = [f"processor\t: {n}\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\n"
              f"CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: {PI4_PART:#x}\n"
              "CPU revision\t: 3\n" for n in range(PI4_CORES)]
    blocks.append(f"Revision\t: c03114\nSerial\t\t: 10000000deadbeef\nModel\t\t: {PI4_BOARD}\n")
    cpuinfo = rootfs.parent / "cpuinfo-pi4"
    cpuinfo.write_text("\n".join(blocks))
    cpu_dir = rootfs / "sys/devices/system/cpu"
    shutil.rmtree(cpu_dir, ignore_errors=True)
    span = f"0-{PI4_CORES - 1}\n"
    for name in ("possible", "present", "online"):
        (cpu_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (cpu_dir / name).write_text(span)
    (cpu_dir / "kernel_max").write_text(f"{PI4_CORES - 1}\n")
    for n in range(PI4_CORES):
        freq, topology = cpu_dir / f"cpu{n}/cpufreq", cpu_dir / f"cpu{n}/topology"
        freq.mkdir(parents=True)
        topology.mkdir(parents=True)
        for name, value in (("cpuinfo_max_freq", PI4_MAX_KHZ), ("cpuinfo_min_freq", 600_000),
                            ("scaling_cur_freq", PI4_MAX_KHZ), ("scaling_governor", "ondemand")):
            (freq / name).write_text(f"{value}\n")
        for name, value in (("core_id", n), ("physical_package_id", 0), ("core_siblings_list", span.strip()),
                            ("package_cpus_list", span.strip()), ("thread_siblings_list", n)):
            (topology / name).write_text(f"{value}\n")
    return cpuinfo


@contextlib.contextmanager
def guest_mounts(rootfs: Path, cpuinfo: Path | None) -> Iterator[None]:
    """/proc (with the Pi's cpuinfo bound over it, unless None), /dev and /dev/shm inside the chroot."""
    mounted: list[Path] = []
    binds = [(None, "proc", ["-t", "proc", "proc"]), ("/dev", "dev", ["--bind"]), ("/dev/shm", "dev/shm", ["--bind"])]
    if cpuinfo is not None:
        binds.append((str(cpuinfo), "proc/cpuinfo", ["--bind"]))
    try:
        for source, target, args in binds:
            path = rootfs / target
            path.mkdir(parents=True, exist_ok=True) if target != "proc/cpuinfo" else None
            run(["mount", *args, *([source] if source else []), str(path)])
            mounted.append(path)
        shutil.copyfile("/etc/resolv.conf", rootfs / "etc/resolv.conf")
        yield
    finally:
        for path in reversed(mounted):
            subprocess.run(["umount", "-l", str(path)], check=False)


@contextlib.contextmanager
def memory_cgroup(limit_mb: int) -> Iterator[Path | None]:
    """A child of this process's cgroup-v1 memory cgroup with ``limit_mb`` (None where none can be made)."""
    own = next((line.split(":", 2)[2] for line in Path("/proc/self/cgroup").read_text().splitlines()
                if line.split(":")[1] == "memory"), None)
    base = Path("/sys/fs/cgroup/memory") / (own or "/").lstrip("/")
    group = base / f"pi-check-{os.getpid()}"
    try:
        group.mkdir()
        (group / "memory.limit_in_bytes").write_text(str(limit_mb * 2**20))
    except OSError as exc:
        logger.warning("no memory cgroup (%s): the guest is capped per process with RLIMIT_AS only", exc)
        yield None
        return
    try:
        yield group
    finally:
        for _ in range(20):
            with contextlib.suppress(OSError):
                group.rmdir()
                break
            time.sleep(0.5)


class Guest:
    """Commands in the chroot as an emulated Cortex-A72, inside the memory cgroup."""

    def __init__(self, rootfs: Path, group: Path | None, limit_mb: int) -> None:
        self.rootfs, self.group, self.limit_mb = rootfs, group, limit_mb
        self.env = {"PATH": f"{GUEST_VENV}/bin:/usr/local/bin:/usr/bin:/bin", "HOME": "/root", "LANG": "C.UTF-8",
                    "QEMU_CPU": "cortex-a72", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        # The host's CA bundle (public certificates only), so that pip in the guest trusts the
        # same package-index chain as the host does.
        bundle = Path(os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt")
        if bundle.exists():
            shutil.copyfile(bundle, rootfs / GUEST_WORK.relative_to("/") / "host-ca.crt")
            self.env["PIP_CERT"] = self.env["SSL_CERT_FILE"] = str(GUEST_WORK / "host-ca.crt")

    def _enter(self) -> None:
        if self.group is not None:
            (self.group / "cgroup.procs").write_text(str(os.getpid()))
        else:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (self.limit_mb * 2**20,) * 2)
        os.setsid()

    def command(self, script: str) -> list[str]:
        return ["chroot", str(self.rootfs), "/usr/bin/env", "-i", *[f"{k}={v}" for k, v in self.env.items()],
                "/bin/bash", "-ec", script]

    def run(self, script: str, *, timeout_s: float = 3600) -> str:
        logger.info("guest$ %s", script)
        done = subprocess.run(self.command(script), capture_output=True, text=True, timeout=timeout_s,
                              preexec_fn=self._enter, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"guest command failed ({done.returncode}): {script}\n{done.stderr[-3000:]}")
        return done.stdout

    def status(self, script: str, *, timeout_s: float = 600) -> int:
        """The exit status of ``script`` (negative: killed by that signal)."""
        logger.info("guest$ %s", script)
        return subprocess.run(self.command(script), capture_output=True, timeout=timeout_s,
                              preexec_fn=self._enter, check=False).returncode

    def start(self, script: str, log: Path) -> subprocess.Popen:
        logger.info("guest& %s", script)
        with log.open("w") as handle:
            return subprocess.Popen(self.command(script), stdout=handle, stderr=subprocess.STDOUT,
                                    preexec_fn=self._enter)


def build_wheel(out: Path) -> Path:
    """The project wheel, as `python -m build --wheel` makes it on the workstation."""
    shutil.rmtree(out, ignore_errors=True)
    done = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(REPO)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"building the wheel failed: {done.stderr.strip()[-2000:]}")
    return next(out.glob("edge_nas-*.whl"))


def prepare_models(work: Path, seed: int) -> None:
    """An int8 MobileNetV2 (alpha 0.35, 96x96, random weights; int8 in and out), its every-output
    variant for the XNNPACK view, and one seeded int8 input, written for host and guest alike."""
    from ai_edge_litert.tools import flatbuffer_utils

    from evaluators import convert
    from search_spaces.keras_backend import keras

    keras.utils.set_random_seed(seed)
    model = keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, weights=None, classes=10)
    tflite = convert(model, "int8", calibration="random", calibration_samples=16).tflite_bytes
    (work / "model.tflite").write_bytes(tflite)
    flat = flatbuffer_utils.read_model_from_bytearray(bytearray(tflite))
    graph = flat.subgraphs[0]
    outputs = sorted({int(t) for op in graph.operators for t in op.outputs if t >= 0})
    graph.outputs = np.asarray(outputs, dtype=np.int32)
    (work / "model_all_outputs.tflite").write_bytes(bytes(flatbuffer_utils.convert_object_to_bytearray(flat)))
    rng = np.random.default_rng(seed)
    np.save(work / "input.npy", rng.integers(-128, 128, (1, 96, 96, 3), dtype=np.int8))


def compare_tensors(x86: Path, arm: Path, output_index: int) -> dict[str, object]:
    """Every tensor of both views: how many, how many differ, the largest difference, and whether
    the model's output tensor (``output_index``) is identical."""
    a, b = np.load(x86), np.load(arm)
    report: dict[str, object] = {}
    for view in ("ref", "xnn"):
        keys, out = sorted(k for k in a.files if k.startswith(view + "/")), f"{view}/{output_index}"
        missing = sorted(set(keys) ^ {k for k in b.files if k.startswith(view + "/")})
        differing = [k for k in keys if k in b.files and not np.array_equal(a[k], b[k])]
        max_abs = max((int(np.max(np.abs(a[k].astype(np.int64) - b[k].astype(np.int64))))
                       for k in differing if a[k].shape == b[k].shape and a[k].dtype.kind in "iu"), default=0)
        report[view] = {"tensors": len(keys), "missing": len(missing), "differing": len(differing),
                        "max_abs_int_difference": max_abs,
                        "output_identical": out in a.files and out in b.files and bool(np.array_equal(a[out], b[out])),
                        "bit_identical": bool(keys) and not missing and not differing}
    return report


def output_index(work: Path) -> int:
    """The index of the model's (first) output tensor."""
    from ai_edge_litert.interpreter import Interpreter

    return int(Interpreter(model_path=str(work / "model.tflite")).get_output_details()[0]["index"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_and_measure(guest: Guest, work: Path, log: Path) -> dict[str, object]:
    """``edge-profiler serve`` in the guest, measured through from the host with RemoteProfiler."""
    from edge_profiler.client import RemoteProfiler

    port = free_port()
    agent = guest.start(f"exec edge-profiler serve --host 127.0.0.1 --port {port} --timeout-s 900", log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while True:
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{url}/v1/health", timeout=5) as response:
                    health = json.loads(response.read())
                    break
            if agent.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the agent did not come up: {log.read_text()[-2000:]}")
            time.sleep(2)
        result = RemoteProfiler([url], timeout_s=1800).measure((work / "model.tflite").read_bytes(),
                                                                 warmup_runs=2, runs=10, min_seconds=0.0)
        return {"health": health, "result": result}
    finally:
        os.killpg(agent.pid, signal.SIGTERM)
        try:
            agent.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(agent.pid, signal.SIGKILL)


def guest_checks(guest: Guest, wheel: Path, logs: Path) -> dict[str, object]:
    """Install, assert no TensorFlow, describe the device, bench, dump tensors, serve + RemoteProfiler."""
    record: dict[str, object] = {}
    start = time.monotonic()
    guest.run(f"rm -rf {GUEST_VENV} && python3 -m venv {GUEST_VENV} && "
              f"pip install -q '{GUEST_WORK}/wheel/{wheel.name}[agent,camera]'")
    record["install_seconds"] = round(time.monotonic() - start, 1)
    record["pip_freeze"] = guest.run("pip freeze").split()
    record["python"] = guest.run(
        "python -c 'import platform; print(platform.python_version(), platform.machine())'").strip()
    record["opencv"] = guest.run("python -c 'import cv2; print(cv2.__version__)'").strip()
    record["device"] = json.loads(guest.run("edge-profiler device"))
    start = time.monotonic()
    record["bench"] = json.loads(guest.run(f"edge-profiler bench {GUEST_WORK}/work/model.tflite --json "
                                           "--warmup-runs 2 --runs 10 --min-seconds 0 --timeout-s 900"))
    record["bench_seconds"] = round(time.monotonic() - start, 1)
    record["tensors"] = json.loads(guest.run(f"python {GUEST_WORK}/tensors.py {GUEST_WORK}/work "
                                             f"{GUEST_WORK}/work/arm64.npz --assert-no-tensorflow"))
    start = time.monotonic()
    record["serve"] = serve_and_measure(guest, guest.rootfs / GUEST_WORK.relative_to("/") / "work", logs / "agent.log")
    record["serve_seconds"] = round(time.monotonic() - start, 1)
    return record


def memory_checks(guest: Guest) -> dict[str, object]:
    """Why the cap is set from outside: a guest ``setrlimit(RLIMIT_AS)`` of 256 MB does not stop a
    512 MB allocation under qemu-user; a guest allocating 512 MB more than the cap is killed."""
    touch = "python3 -c \"import resource; {limit}b = b'x' * ({mb} << 20)\""
    rlimit = guest.status(touch.format(limit="resource.setrlimit(resource.RLIMIT_AS, (256 << 20,) * 2); ", mb=512))
    over = guest.status(touch.format(limit="", mb=guest.limit_mb + 512))
    return {"rlimit_as_256mb_then_512mb_exit": rlimit, "cap_plus_512mb_exit": over,
            "guest_rlimit_ignored": rlimit == 0, "cap_enforced": over != 0}


def control_without_cpu_view(guest: Guest) -> dict[str, object]:
    """The same bench with the host's (x86) /proc/cpuinfo and no /sys CPU tree: XNNPACK stays off."""
    shutil.rmtree(guest.rootfs / "sys/devices/system/cpu", ignore_errors=True)
    with guest_mounts(guest.rootfs, None):
        return json.loads(guest.run(f"edge-profiler bench {GUEST_WORK}/work/model.tflite --json "
                                    "--warmup-runs 1 --runs 3 --min-seconds 0 --timeout-s 900"))


def checks_of(record: dict[str, object]) -> dict[str, bool]:
    """Each pass/fail line of the verdict."""
    guest, compare = record["guest"], record["compare"]
    frozen = " ".join(guest["pip_freeze"]).lower()
    bench, remote = guest["bench"], guest["serve"]["result"]
    return {
        "installed [agent,camera] from the wheel, no TensorFlow": "tensorflow" not in frozen
        and "ai-edge-litert" in frozen and not guest["tensors"]["tensorflow_importable"],
        "guest is aarch64 Python 3.11": guest["python"].startswith("3.11") and guest["python"].endswith("aarch64"),
        "device: Pi 4 board and Cortex-A72 core": guest["device"]["cpu_core"] == "Cortex-A72"
        and guest["device"]["cpu_model"] == PI4_BOARD,
        "bench: XNNPACK applied": bench["xnnpack_applied"] is True,
        "serve + RemoteProfiler from the host: aarch64, XNNPACK applied": remote["device"]["architecture"] == "aarch64"
        and remote["xnnpack_applied"] is True and remote["model_sha256"] == bench["model_sha256"],
        "every tensor, XNNPACK: bit-identical to x86": compare["xnn"]["bit_identical"]
        and guest["tensors"]["xnnpack_delegate_nodes"] > 0,
        "control, no CPU view: XNNPACK reported not applied": record["control"]["xnnpack_applied"] is False,
        "memory: qemu-user ignores the guest's RLIMIT_AS, the outside cap holds":
        record["memory"]["guest_rlimit_ignored"] and record["memory"]["cap_enforced"],
    }


def main() -> int:
    try:
        return check()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        print(f"error: {str(exc).strip()}", file=sys.stderr)
        return 1


def check() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=REPO / ".cache/pi-check", help="rootfs and work files")
    parser.add_argument("--memory-mb", type=int, default=4096, help="memory cap of the whole guest (a 4 GB Pi 4)")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--json", action="store_true", help="print the whole record as JSON")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    if os.geteuid() != 0:
        print("error: make pi-check needs root (debootstrap, chroot, mounts, binfmt_misc)", file=sys.stderr)
        return 2
    started = time.monotonic()
    args.cache.mkdir(parents=True, exist_ok=True)
    ensure_host_tools()
    rootfs, debootstrap_s = ensure_rootfs(args.cache)
    work = rootfs / GUEST_WORK.relative_to("/") / "work"
    work.mkdir(parents=True, exist_ok=True)
    wheel = build_wheel(rootfs / GUEST_WORK.relative_to("/") / "wheel")
    shutil.copyfile(HERE / "tensors.py", rootfs / GUEST_WORK.relative_to("/") / "tensors.py")
    prepare_models(work, args.seed)
    x86 = subprocess.run([sys.executable, str(HERE / "tensors.py"), str(work), str(work / "x86.npz")],
                         check=True, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    record: dict[str, object] = {"debootstrap_seconds": round(debootstrap_s, 1), "wheel": wheel.name,
                                 "x86_tensors": json.loads(x86.stdout.splitlines()[-1])}
    with memory_cgroup(args.memory_mb) as group:
        guest = Guest(rootfs, group, args.memory_mb)
        record["memory_cap"] = f"{'cgroup memory.limit_in_bytes' if group else 'RLIMIT_AS'} {args.memory_mb} MB"
        with guest_mounts(rootfs, write_cpu_view(rootfs)):
            record["guest"] = guest_checks(guest, wheel, args.cache)
        record["compare"] = compare_tensors(work / "x86.npz", work / "arm64.npz", output_index(work))
        record["control"] = control_without_cpu_view(guest)
        with guest_mounts(rootfs, None):
            record["memory"] = memory_checks(guest)
    record["checks"] = checks_of(record)
    record["total_seconds"] = round(time.monotonic() - started, 1)
    (args.cache / "result.json").write_text(json.dumps(record, indent=2, default=str))
    print(json.dumps(record, indent=2, default=str) if args.json else verdict_text(record))
    return 0 if all(record["checks"].values()) else 1


def verdict_text(record: dict[str, object]) -> str:
    guest = record["guest"]
    lines = [f"{'PASS' if ok else 'FAIL'}  {name}" for name, ok in record["checks"].items()]
    compare = record["compare"]
    lines += [
        f"XNNPACK: {compare['xnn']['differing']} of {compare['xnn']['tensors']} tensors differ from x86",
        f"built-in kernels (use_xnnpack=false, information): {compare['ref']['differing']} of "
        f"{compare['ref']['tensors']} tensors differ from x86, by at most {compare['ref']['max_abs_int_difference']} "
        f"integer steps; model output identical: {compare['ref']['output_identical']}",
        f"bench p50 (emulated, not a Pi's speed): {guest['bench']['latency_ms']['p50']:.1f} ms",
        f"times: debootstrap {record['debootstrap_seconds']} s (0 = cached), install {guest['install_seconds']} s, "
        f"bench {guest['bench_seconds']} s, serve+client {guest['serve_seconds']} s, total {record['total_seconds']} s",
        f"memory cap: {record['memory_cap']}",
        "verdict: " + ("the agent works on emulated Raspberry Pi OS" if all(record["checks"].values()) else "FAILED"),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
