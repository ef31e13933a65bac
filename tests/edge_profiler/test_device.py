"""Device description from a fake /proc and /sys tree, and the throttling logic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edge_profiler.device import (
    cpu_frequencies,
    describe_device,
    machine_model,
    parse_throttled,
    temperatures_c,
    throttle_state,
    throttled_between,
)
from edge_profiler.measurer import CooldownPolicy, Measurer
from edge_profiler.sandbox import SandboxLimits
from tests.edge_profiler.conftest import FAST


def _fake_pi(root: Path, temp_milli_c: int = 48_000) -> Path:
    (root / "proc/device-tree").mkdir(parents=True)
    (root / "proc/device-tree/model").write_bytes(b"Raspberry Pi 5 Model B Rev 1.0\x00")
    (root / "proc/cpuinfo").write_text("processor\t: 0\nModel\t\t: Raspberry Pi 5 Model B Rev 1.0\n")
    for cpu in range(4):
        freq = root / f"sys/devices/system/cpu/cpu{cpu}/cpufreq"
        freq.mkdir(parents=True)
        (freq / "scaling_cur_freq").write_text("2400000\n")
        (freq / "cpuinfo_min_freq").write_text("1500000\n")
        (freq / "cpuinfo_max_freq").write_text("2400000\n")
        (freq / "scaling_governor").write_text("performance\n")
    zone = root / "sys/class/thermal/thermal_zone0"
    zone.mkdir(parents=True)
    (zone / "type").write_text("cpu-thermal\n")
    (zone / "temp").write_text(f"{temp_milli_c}\n")
    (zone / "trip_point_0_type").write_text("passive\n")
    (zone / "trip_point_0_temp").write_text("80000\n")
    (root / "etc").mkdir()
    (root / "etc/os-release").write_text('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n')
    return root


def test_reads_a_raspberry_pi_tree(tmp_path: Path) -> None:
    root = _fake_pi(tmp_path)
    assert machine_model(root) == "Raspberry Pi 5 Model B Rev 1.0"
    freqs = cpu_frequencies(root)
    assert [f["cpu"] for f in freqs] == [0, 1, 2, 3]
    assert freqs[0] == {"cpu": 0, "cur_mhz": 2400.0, "min_mhz": 1500.0, "max_mhz": 2400.0, "governor": "performance"}
    assert temperatures_c(root) == [{"zone": "thermal_zone0", "type": "cpu-thermal", "temp_c": 48.0,
                                     "passive_trip_c": 80.0}]
    description = describe_device(root=root)
    assert description["governors"] == ["performance"]
    assert description["os"] == "Debian GNU/Linux 12 (bookworm)"
    json.dumps(description)


def test_describes_this_machine() -> None:
    description = describe_device()
    for key in ("machine_model", "cpu_count", "cpu_frequencies", "governors", "temperatures_c",
                "throttled_flags", "os", "python", "runtime", "numpy"):
        assert key in description
    assert description["runtime"]["name"] == "ai_edge_litert"


def test_parse_vcgencmd_throttled() -> None:
    flags = parse_throttled("throttled=0x50005\n")
    assert flags["raw"] == "0x50005"
    assert flags["under_voltage_now"] and flags["throttled_now"]
    assert not flags["arm_frequency_capped_now"]
    assert flags["under_voltage_occurred"] and flags["throttled_occurred"]
    assert not parse_throttled("throttled=0x0")["throttled_occurred"]
    with pytest.raises(ValueError, match="^cannot parse vcgencmd output 'error'$"):
        parse_throttled("error")


def test_fake_vcgencmd_is_used(tmp_path: Path) -> None:
    script = tmp_path / "vcgencmd"
    script.write_text("#!/bin/sh\necho throttled=0x20000\n")
    script.chmod(0o755)
    state = throttle_state(root=tmp_path, vcgencmd=str(script))
    assert state["vcgencmd"]["arm_frequency_capped_occurred"]


def test_throttled_between_snapshots() -> None:
    calm = {"vcgencmd": parse_throttled("throttled=0x0"), "temperatures_c": []}
    capped_meanwhile = {"vcgencmd": parse_throttled("throttled=0x20000"), "temperatures_c": []}
    capped_now = {"vcgencmd": parse_throttled("throttled=0x2"), "temperatures_c": []}
    assert not throttled_between(calm, calm)
    assert throttled_between(calm, capped_meanwhile)
    assert not throttled_between(capped_meanwhile, capped_meanwhile)  # sticky bit from before
    assert throttled_between(capped_meanwhile, capped_now)
    hot = {"vcgencmd": None, "temperatures_c": [{"temp_c": 82.0, "passive_trip_c": 80.0}]}
    cool = {"vcgencmd": None, "temperatures_c": [{"temp_c": 50.0, "passive_trip_c": 80.0}]}
    assert throttled_between(cool, hot) and not throttled_between(cool, cool)


def test_throttled_measurement_waits_for_cooldown_and_retries(tiny_model: bytes) -> None:
    hot = {"vcgencmd": parse_throttled("throttled=0x4"), "temperatures_c": [{"temp_c": 85.0, "passive_trip_c": 80.0}]}
    cool = {"vcgencmd": parse_throttled("throttled=0x0"), "temperatures_c": [{"temp_c": 50.0, "passive_trip_c": 80.0}]}
    # before/after the 1st run, two hot polls while cooling down, then before/after the 2nd run
    states = iter([cool, hot, hot, hot, cool, cool, cool])
    sleeps: list[float] = []
    measurer = Measurer(SandboxLimits(memory_limit_mb=1024), CooldownPolicy(retries=1, poll_s=5.0),
                        state_fn=lambda: next(states), sleep=sleeps.append)
    from edge_profiler.params import MeasureParams

    result = measurer.measure(tiny_model, MeasureParams(**FAST))
    assert result["attempts"] == 2 and result["throttled"] is False
    assert sleeps == [5.0, 5.0]

    always_hot = Measurer(SandboxLimits(memory_limit_mb=1024), CooldownPolicy(retries=0), state_fn=lambda: hot)
    assert always_hot.measure(tiny_model, MeasureParams(**FAST))["throttled"] is True
