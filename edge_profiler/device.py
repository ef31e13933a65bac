"""Describe the measuring device: what a latency number is only meaningful together with.

Reads the Raspberry Pi model from ``/proc/device-tree/model``, CPU frequencies and governor from
``/sys/devices/system/cpu/cpu*/cpufreq``, temperatures from ``/sys/class/thermal`` and throttling
flags from ``vcgencmd get_throttled`` (bit meanings from the Raspberry Pi documentation). Every
reader tolerates a missing file: containers and laptops have fewer of them than a Pi.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

from edge_profiler.litert import describe_runtime

# vcgencmd get_throttled bits (Raspberry Pi documentation, "vcgencmd").
THROTTLE_BITS_NOW = {0: "under_voltage", 1: "arm_frequency_capped", 2: "throttled", 3: "soft_temperature_limit"}
THROTTLE_BITS_OCCURRED = {16 + bit: name for bit, name in THROTTLE_BITS_NOW.items()}


def _read_text(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8", "replace").replace("\x00", "").strip()
    except OSError:
        return None


def _read_int(path: Path) -> int | None:
    text = _read_text(path)
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def machine_model(root: Path = Path("/")) -> str:
    """``Raspberry Pi 5 Model B Rev 1.0`` on a Pi; the DMI product or CPU model elsewhere."""
    for relative in ("proc/device-tree/model", "sys/firmware/devicetree/base/model",
                     "sys/class/dmi/id/product_name"):
        text = _read_text(root / relative)
        if text:
            return text
    return cpu_model(root) or platform.machine()


def cpu_model(root: Path = Path("/")) -> str | None:
    text = _read_text(root / "proc/cpuinfo") or ""
    for key in ("model name", "Model", "Hardware", "cpu model"):
        match = re.search(rf"^{key}\s*:\s*(.+)$", text, re.MULTILINE)
        if match:
            return match.group(1).strip()
    return None


# "CPU part" ids of Arm Ltd's cores (implementer 0x41), from the Linux kernel's
# arch/arm64/include/asm/cputype.h and util-linux lscpu's arm table. Raspberry Pi boards: Pi 1 and
# Zero ARM1176, Pi 2 Cortex-A7, Pi 3 / Zero 2 Cortex-A53, Pi 4 / 400 Cortex-A72, Pi 5 Cortex-A76.
ARM_IMPLEMENTER = 0x41
ARM_CORE_PARTS = {
    0xB76: "ARM1176", 0xC07: "Cortex-A7", 0xC08: "Cortex-A8", 0xC09: "Cortex-A9", 0xC0F: "Cortex-A15",
    0xD03: "Cortex-A53", 0xD04: "Cortex-A35", 0xD05: "Cortex-A55", 0xD07: "Cortex-A57",
    0xD08: "Cortex-A72", 0xD09: "Cortex-A73", 0xD0A: "Cortex-A75", 0xD0B: "Cortex-A76",
    0xD0C: "Neoverse-N1", 0xD0D: "Cortex-A77", 0xD40: "Neoverse-V1", 0xD41: "Cortex-A78",
    0xD44: "Cortex-X1", 0xD46: "Cortex-A510", 0xD47: "Cortex-A710", 0xD48: "Cortex-X2",
    0xD49: "Neoverse-N2", 0xD4B: "Cortex-A78C", 0xD4D: "Cortex-A715", 0xD80: "Cortex-A520",
    0xD81: "Cortex-A720",
}


def _hex_field(block: str, key: str) -> int | None:
    match = re.search(rf"^{key}\s*:\s*(0x[0-9a-fA-F]+|\d+)\s*$", block, re.MULTILINE)
    return int(match.group(1), 0) if match else None


def cpu_core(root: Path = Path("/")) -> str | None:
    """The CPU core(s) from ``/proc/cpuinfo``'s ``CPU implementer`` / ``CPU part`` fields.

    On a Pi ``cpu_model`` is the board name (the only ``Model`` line); the core is what the
    latency depends on: ``Cortex-A72`` on a Pi 4, ``Cortex-A76`` on a Pi 5. Distinct cores of a
    big.LITTLE chip are joined with `` + `` in the order of the processors; a part not in the
    table reads ``Arm part 0xd99`` (another implementer: ``implementer 0x51 part 0x805``).
    None where the file has no part ids (x86, or no /proc).
    """
    text = _read_text(root / "proc/cpuinfo") or ""
    cores: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        part = _hex_field(block, "CPU part")
        if part is None:
            continue
        implementer = _hex_field(block, "CPU implementer")
        if implementer == ARM_IMPLEMENTER:
            name = ARM_CORE_PARTS.get(part, f"Arm part {part:#x}")
        else:
            name = f"implementer {implementer:#x} part {part:#x}" if implementer is not None else f"part {part:#x}"
        if name not in cores:
            cores.append(name)
    return " + ".join(cores) if cores else None


def cpu_frequencies(root: Path = Path("/")) -> list[dict[str, Any]]:
    """Per-CPU current/min/max frequency in MHz and governor (empty where cpufreq is absent)."""
    result = []
    cpu_dir = root / "sys/devices/system/cpu"
    for cpu in sorted(cpu_dir.glob("cpu[0-9]*"), key=lambda p: int(p.name[3:])):
        freq = cpu / "cpufreq"
        if not freq.is_dir():
            continue
        khz = {k: _read_int(freq / f) for k, f in (("cur", "scaling_cur_freq"), ("min", "cpuinfo_min_freq"),
                                                    ("max", "cpuinfo_max_freq"))}
        result.append({
            "cpu": int(cpu.name[3:]),
            "cur_mhz": khz["cur"] / 1000 if khz["cur"] else None,
            "min_mhz": khz["min"] / 1000 if khz["min"] else None,
            "max_mhz": khz["max"] / 1000 if khz["max"] else None,
            "governor": _read_text(freq / "scaling_governor"),
        })
    return result


def temperatures_c(root: Path = Path("/")) -> list[dict[str, Any]]:
    """Thermal zones: type, temperature and the lowest passive trip point, in degrees Celsius."""
    zones = []
    for zone in sorted((root / "sys/class/thermal").glob("thermal_zone*")):
        milli = _read_int(zone / "temp")
        if milli is None:
            continue
        passive = []
        for trip_type in zone.glob("trip_point_*_type"):
            if _read_text(trip_type) == "passive":
                trip = _read_int(zone / trip_type.name.replace("_type", "_temp"))
                if trip is not None:
                    passive.append(trip / 1000)
        zones.append({"zone": zone.name, "type": _read_text(zone / "type"), "temp_c": milli / 1000,
                      "passive_trip_c": min(passive) if passive else None})
    return zones


def parse_throttled(text: str) -> dict[str, Any]:
    """Decode ``throttled=0x50005`` into named flags (``*_now`` and ``*_occurred``)."""
    match = re.search(r"throttled=(0x[0-9a-fA-F]+|\d+)", text)
    if not match:
        raise ValueError(f"cannot parse vcgencmd output {text!r}")
    value = int(match.group(1), 0)
    flags: dict[str, Any] = {"raw": hex(value)}
    for bit, name in THROTTLE_BITS_NOW.items():
        flags[f"{name}_now"] = bool(value >> bit & 1)
    for bit, name in THROTTLE_BITS_OCCURRED.items():
        flags[f"{name}_occurred"] = bool(value >> bit & 1)
    return flags


def read_throttled(vcgencmd: str | None = None) -> dict[str, Any] | None:
    """``vcgencmd get_throttled`` decoded, or None where vcgencmd is not installed."""
    command = vcgencmd or shutil.which("vcgencmd")
    if not command:
        return None
    try:
        completed = subprocess.run([command, "get_throttled"], capture_output=True, text=True, timeout=5,
                                   check=False)
        return parse_throttled(completed.stdout)
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None


def throttle_state(root: Path = Path("/"), vcgencmd: str | None = None) -> dict[str, Any]:
    """Snapshot used before and after a measurement: vcgencmd flags and temperatures."""
    return {"vcgencmd": read_throttled(vcgencmd), "temperatures_c": temperatures_c(root)}


def throttled_between(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """True if the device throttled (thermal or under-voltage) at any time between two snapshots.

    With vcgencmd: a ``*_now`` flag set in either snapshot, or a sticky ``*_occurred`` flag that
    became set. Without it: a thermal zone at or above its passive trip point.
    """
    flags_before, flags_after = before.get("vcgencmd"), after.get("vcgencmd")
    if flags_after is not None:
        for name in THROTTLE_BITS_NOW.values():
            if flags_after[f"{name}_now"] or (flags_before or {}).get(f"{name}_now"):
                return True
            if flags_after[f"{name}_occurred"] and not (flags_before or {}).get(f"{name}_occurred", False):
                return True
        return False
    for snapshot in (before, after):
        for zone in snapshot.get("temperatures_c", []):
            if zone["passive_trip_c"] is not None and zone["temp_c"] >= zone["passive_trip_c"]:
                return True
    return False


def max_temperature_c(state: dict[str, Any]) -> float | None:
    temps = [zone["temp_c"] for zone in state.get("temperatures_c", [])]
    return max(temps) if temps else None


def _os_release(root: Path) -> str | None:
    text = _read_text(root / "etc/os-release") or ""
    match = re.search(r'^PRETTY_NAME="?([^"\n]*)"?$', text, re.MULTILINE)
    return match.group(1) if match else None


def describe_device(*, runtime: str = "auto", root: Path = Path("/")) -> dict[str, Any]:
    """The device description sent with every measurement and by ``GET /v1/device``."""
    import numpy  # the only third-party package the agent needs

    frequencies = cpu_frequencies(root)
    governors = sorted({f["governor"] for f in frequencies if f["governor"]})
    try:
        runtime_json: dict[str, str] | None = describe_runtime(runtime).to_json()
    except RuntimeError:
        runtime_json = None
    return {
        "hostname": socket.gethostname(),
        "machine_model": machine_model(root),
        "cpu_model": cpu_model(root),
        "cpu_core": cpu_core(root),
        "architecture": platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity_count": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_frequencies": frequencies,
        "governors": governors,
        "temperatures_c": temperatures_c(root),
        "throttled_flags": read_throttled(),
        "os": _os_release(root) or platform.platform(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "runtime": runtime_json,
    }
