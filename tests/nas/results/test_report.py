"""nas.results.report: a self-contained HTML page checked in headless Chromium, and the PNG chart."""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nas.record.points import ModelPoint
from nas.results.compare import compare, summary_lines
from nas.results.front import pareto_front
from nas.results.report import TRACE_MOBILENET_TRIALS, TRACE_REFERENCES, TRACE_TRIALS, build_html, save_png
from tests.nas import browser

needs_chromium = pytest.mark.skipif(
    browser.CHROMIUM is None, reason="Debian chromium is not installed (apt-get install chromium)"
)


def _points(n: int, seed: int = 0) -> list[ModelPoint]:
    rng = np.random.default_rng(seed)
    points = [
        ModelPoint(
            label=f"trial {i}",
            architecture=f"in32x3-stem_c8_k3_s2_relu6-ir_r1_k3_s1_e{i % 6 + 1}_c8_relu6-head_c64_relu6-cls10<&>",
            accuracy=float(rng.uniform(0.4, 0.95)),
            latency_ms_p50=float(rng.uniform(0.2, 5.0)),
            size_bytes=int(rng.integers(10_000, 300_000)),
            params=int(rng.integers(1_000, 90_000)),
            macs=int(rng.integers(10_000, 900_000)),
            trial_number=i,
            baseline="mobilenet_v2_0.35" if i == 0 else None,
            feasible=i != 3,
        )
        for i in range(n)
    ]
    # A pruned/failed trial without accuracy is listed in the table but not drawn.
    points.append(ModelPoint(label=f"trial {n}", architecture="x", accuracy=None, latency_ms_p50=1.0,
                             size_bytes=5000, trial_number=n, feasible=False))
    return points


def _references() -> list[ModelPoint]:
    return [
        ModelPoint(label=f"mobilenet_v2_{w}", architecture="mbv2", accuracy=0.5 + w / 3,
                   latency_ms_p50=1 + 3 * w, size_bytes=int(250_000 * w), baseline=f"mobilenet_v2_{w}")
        for w in (0.35, 0.5, 1.0)
    ]


def _write_report(tmp_path: Path, points: list[ModelPoint], references: list[ModelPoint]) -> Path:
    front = [p for p in pareto_front(points) if not p.baseline]
    comparisons = compare(front, references)
    page = tmp_path / "report.html"
    page.write_text(
        build_html(points, title="tiny study", device={"machine": "x86_64", "cpu_count": 2},
                   comparisons=comparisons, summary_lines=summary_lines(comparisons)),
        encoding="utf-8",
    )
    return page


def _render_check(dom: str) -> dict:
    """The chart's post-render record: JSON in the invisible ``data-render-check`` attribute."""
    match = re.search(r'<div id="pareto-wrap" data-render-check="([^"]*)"', dom)
    assert match, "chart wrapper missing from the DOM"
    text = html.unescape(match.group(1))
    assert text, "the chart's post-render script did not run"
    return json.loads(text)


class _VisibleText(HTMLParser):
    """The text a reader sees outside the chart: every text node not in a script, style or the chart."""

    _HIDDEN = {"script", "style", "head", "title"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.chart_depth: int | None = None
        self.blocks: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        if tag in {"meta", "br", "link", "input", "img", "hr", "path", "rect", "line", "circle"}:
            return
        self.stack.append(tag)
        if dict(attrs).get("id") == "pareto-wrap" and self.chart_depth is None:
            self.chart_depth = len(self.stack)

    def handle_endtag(self, tag):
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass
        if self.chart_depth is not None and len(self.stack) < self.chart_depth:
            self.chart_depth = None

    def handle_data(self, data):
        if data.strip() and not self._HIDDEN & set(self.stack) and self.chart_depth is None:
            self.blocks.append((self.stack[-1] if self.stack else "", data.strip()))


def visible_text(dom: str) -> list[tuple[str, str]]:
    parser = _VisibleText()
    parser.feed(dom)
    return parser.blocks


def test_html_is_self_contained(tmp_path: Path) -> None:
    page = _write_report(tmp_path, _points(8), _references())
    text = page.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=", text), "scripts must be inlined"
    assert not re.search(r"<link[^>]+href=", text), "no external stylesheets"
    assert "Plotly.newPlot" in text and len(text) > 1_000_000  # plotly.js itself is inlined
    assert "&lt;&amp;&gt;" in text  # architecture strings are escaped in the tables
    assert "x86_64" in text and "mobilenet_v2_1.0" in text and "dominated by" in text


@pytest.fixture(scope="module")
def rendered_page(tmp_path_factory) -> tuple[Path, str, list[str]]:
    """The report of ``_points(9)`` and ``_references()`` rendered once in Chromium: (page, DOM, console)."""
    page = _write_report(tmp_path_factory.mktemp("rendered"), _points(9), _references())
    return (page, *browser.dump_dom(page))


@needs_chromium
def test_report_renders_in_headless_chromium(rendered_page, tmp_path: Path) -> None:
    points, references = _points(9), _references()
    page, dom, console = rendered_page
    assert console == [], f"console messages: {console}"
    check = _render_check(dom)
    assert check["errors"] == []
    evaluated = [p for p in points if p.accuracy is not None]
    assert check["points"][TRACE_TRIALS] == len(evaluated) == 9  # one point per evaluated trial
    assert check["points"][TRACE_MOBILENET_TRIALS] == 1
    assert check["points"][TRACE_REFERENCES] == len(references)

    shot = browser.screenshot(page, tmp_path / "shot.png")
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape[0] > 500 and pixels.std() > 10.0, "screenshot looks blank"


@needs_chromium
def test_rendered_page_has_no_stray_text(rendered_page) -> None:
    """Issue 14: a raw JSON line ({"rendered":true,...}) showed under the chart. After rendering in
    Chromium, every visible text outside the chart is prose, a heading or a table cell: no JSON, no
    test hook, nothing outside the page's own elements."""
    _, dom, _ = rendered_page
    assert _render_check(dom)["rendered"] is True  # the hook ran, in an attribute
    blocks = visible_text(dom)
    assert blocks, "no visible text found"
    stray = [(tag, text) for tag, text in blocks
             if tag not in {"h1", "h2", "p", "small", "td", "th", "li", "b", "code", "strong", "em", "span", "a"}
             or text.lstrip().startswith(("{", "[")) or "rendered" in text or "render-check" in text]
    assert stray == [], f"stray text in the page: {stray[:5]}"
    assert "<pre" not in dom


def test_png_chart_is_not_blank(tmp_path: Path) -> None:
    out = save_png(_points(6), tmp_path / "figs" / "pareto.png", references=_references(), title="t")
    image = np.asarray(Image.open(out).convert("RGB"), dtype=float)
    assert image.shape[0] > 400 and image.shape[1] > 600
    assert image.std() > 10.0
    # the front's green and MobileNetV2's orange are both drawn
    assert (np.abs(image - [0x2A, 0x9D, 0x8F]).sum(axis=2) < 30).sum() > 50
    assert (np.abs(image - [0xE7, 0x6F, 0x51]).sum(axis=2) < 30).sum() > 20


def test_png_needs_evaluated_trials(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no evaluated trial"):
        save_png(_points(0), tmp_path / "x.png")


def _report_with_a_cached_reference(tmp_path: Path) -> Path:
    """`nas report` on a constructed study, then again once a reference evaluation is cached."""
    from nas.cli import main
    from nas.record.trial_record import TrialRecord
    from nas.results import references as baselines_eval
    from tests.nas.constructed_study import make_study, trial_attrs

    name, runs = make_study(tmp_path)
    study_dir = runs / name
    assert main(["report", "--study", name, "--runs-dir", str(runs)]) == 0
    page = study_dir / "report.html"
    first = page.read_text(encoding="utf-8")
    assert "No comparison recorded" in first and "Hypervolume of the front: " in first

    # a cached reference evaluation is picked up by the next report
    calls = []

    def evaluate(folder: Path) -> TrialRecord:
        calls.append(folder)
        return TrialRecord.from_user_attrs(trial_attrs(9, 0.85, 2.8, 200_000, "complete"))

    for _ in range(2):
        point, cached = baselines_eval.evaluate_reference(
            name="mobilenet_v2_0.5", resolution=16, label="mobilenet_v2_0.5", study_dir=study_dir,
            settings_fingerprint="abc", evaluate=evaluate)
    assert len(calls) == 1 and cached and point.baseline == "mobilenet_v2_0.5"
    assert main(["report", "--study", name, "--runs-dir", str(runs)]) == 0
    return page


def test_nas_report_on_a_constructed_study(tmp_path: Path, capsys) -> None:
    """No browser needed: the command, the reference-evaluation cache and the "dominated by" text."""
    page = _report_with_a_cached_reference(tmp_path)
    text = page.read_text(encoding="utf-8")
    assert "mobilenet_v2_0.5 (85.0 %, 2.80 ms): dominated by trial 1" in text
    assert (page.parent / "pareto.png").stat().st_size > 10_000


@needs_chromium
def test_the_constructed_study_report_renders_in_headless_chromium(tmp_path: Path, capsys) -> None:
    from tests.nas.constructed_study import TRIALS

    page = _report_with_a_cached_reference(tmp_path)
    dom, console = browser.dump_dom(page)
    assert console == []
    check = _render_check(dom)
    evaluated = [t for t in TRIALS if t[0] is not None] + [TRIALS[1]]  # + the reused duplicate of trial 1
    assert check["points"][TRACE_TRIALS] == len(evaluated)
    assert check["points"][TRACE_REFERENCES] == 1


def _tiny_search_report(study: dict, tmp_path: Path) -> tuple[Path, Path, list]:
    from nas.cli import main
    from nas.record.study import open_study

    assert study["exit_code"] == 0
    page, png = tmp_path / "report.html", tmp_path / "pareto.png"
    assert main(["report", "--study", study["study"], "--runs-dir", str(study["runs_dir"]),
                 "--out", str(page), "--png", str(png)]) == 0
    trials = open_study(study["study"], runs_dir=study["runs_dir"]).trials
    evaluated = [t for t in trials if t.user_attrs.get("accuracy_int8") is not None]
    assert len(evaluated) >= 2
    return page, png, evaluated


def test_nas_report_on_the_tiny_search(tiny_search_study, tmp_path: Path, capsys) -> None:
    """No browser needed: `nas report` on the real tiny study writes every trial and a drawn PNG."""
    page, png, evaluated = _tiny_search_report(tiny_search_study, tmp_path)
    text = page.read_text(encoding="utf-8")
    for trial in evaluated:
        assert html.escape(trial.user_attrs["architecture"]) in text  # hover and table carry the architecture
    image = np.asarray(Image.open(png).convert("L"), dtype=float)
    assert image.std() > 10.0


@needs_chromium
def test_the_tiny_search_report_renders_in_headless_chromium(tiny_search_study, tmp_path: Path, capsys) -> None:
    """Opens offline without console errors, one point per trial."""
    page, _, evaluated = _tiny_search_report(tiny_search_study, tmp_path)
    dom, console = browser.dump_dom(page)
    assert console == [], f"console messages: {console}"
    check = _render_check(dom)
    assert check["errors"] == []
    assert check["points"][TRACE_TRIALS] == len(evaluated)
    assert check["points"][TRACE_MOBILENET_TRIALS] == 1
    shot = browser.screenshot(page, tmp_path / "shot.png")
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.std() > 10.0
