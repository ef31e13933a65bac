"""`nas space`: the default space, the baselines table, one architecture, bad input."""

from __future__ import annotations

import argparse

from search_spaces import SearchSpace, cli


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return cli.run(parser.parse_args(argv))


def test_default_space_shows_size_and_parameters(capsys):
    assert _run([]) == 0
    out = capsys.readouterr().out
    assert f"{SearchSpace.default().size():,} distinct architectures" in out
    assert "stage2_block" in out and "['mbconv', 'fused_mbconv']" in out


def test_baselines_table_lists_params_and_macs(capsys):
    assert _run(["--baselines", "--resolution", "96"]) == 0
    out = capsys.readouterr().out
    # MobileNetV2 0.35 at 96 px: Keras Applications' 1,691,208 parameters; 11.9 M MACs (TF-slim's table: 11 M)
    row = next(line for line in out.splitlines() if "mobilenet_v2_0.35" in line)
    assert "1,691,208" in row and "11,934,128" in row


def test_arch_by_name_and_bad_inputs(capsys, tmp_path):
    assert _run(["--arch", "mobilenet_v2_1.0", "--resolution", "32"]) == 0
    out = capsys.readouterr().out
    assert "strides per stage [1, 2, 2, 1, 1, 1, 1]" in out
    assert _run(["--arch", "in32x3-nonsense"]) == 2
    assert "error: architecture string needs" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("stages: []\n")
    assert _run(["--space", str(bad)]) == 2
    assert "stages: expected a non-empty list" in capsys.readouterr().out
