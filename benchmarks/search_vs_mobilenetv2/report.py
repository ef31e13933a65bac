"""The benchmark's outputs: raw JSON, the Pareto chart (PNG) and the Markdown results section.

The Markdown goes between ``<!-- search_vs_mobilenetv2:start -->`` and ``...:end -->`` in the
configured doc, so the hand-written text around it (what the numbers mean) is kept on re-runs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

START = "<!-- search_vs_mobilenetv2:start -->"
END = "<!-- search_vs_mobilenetv2:end -->"
_STYLE = {"searched": ("o", "#2a9d8f", "NSGA-II front"), "random": ("s", "#6c8ebf", "random-search front"),
          "mobilenet_v2": ("*", "#e76f51", "MobileNetV2")}


def save_chart(points: Mapping[str, Sequence[Any]], path: Path, *, title: str) -> Path:
    """Accuracy (test, int8) against latency p50; marker area follows the int8 size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import PercentFormatter

    from benchmarks.search_vs_mobilenetv2.logic import ACCURACY_LATENCY, front_of

    every = [p for group in points.values() for p in group]
    if not every:
        raise ValueError("nothing to draw: no evaluated model")
    top = max(p.size_bytes for p in every)
    fig, ax = plt.subplots(figsize=(8, 5), dpi=150)
    for kind, group in points.items():
        if not group:
            continue
        marker, color, label = _STYLE[kind]
        sizes = [max(15.0, 350.0 * p.size_bytes / top) for p in group]
        # the control is drawn hollow on top: models both studies found stay visible
        hollow = kind == "random"
        ax.scatter([p.latency_ms_p50 for p in group], [p.accuracy for p in group], s=sizes, marker=marker,
                   facecolors="none" if hollow else color, edgecolors=color if hollow else "#333",
                   linewidths=1.2 if hollow else 0.5, alpha=0.9, label=label, zorder=4 if hollow else 3)
        front = sorted(front_of(group, ACCURACY_LATENCY), key=lambda p: p.latency_ms_p50)
        ax.step([p.latency_ms_p50 for p in front], [p.accuracy for p in front], where="post", color=color,
                linestyle=":", linewidth=1)
        if kind == "mobilenet_v2":
            for p in group:
                ax.annotate(p.label.replace("mobilenet_v2_", "MNv2 "), (p.latency_ms_p50, p.accuracy),
                            fontsize=7, xytext=(4, -9), textcoords="offset points")
    ax.set_xlabel("int8 latency p50 (ms)")
    ax.set_ylabel("int8 test accuracy")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right", markerscale=0.6)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f} %"


def _num(value: float | None, fmt: str = ".3f") -> str:
    return "-" if value is None else format(value, fmt)


def _range(values: Sequence[float] | None) -> str:
    return "-" if not values else f"{min(values):.3f}-{max(values):.3f}"


def markdown(results: Mapping[str, Any], *, png_name: str) -> str:
    """The results section: provenance, targets, hypervolumes, the table."""
    m, v = results["machine"], results["versions"]
    search = results["search_config"]
    lines = [START, ""]
    if results["partial"]:
        lines += ["> **PARTIAL RESULTS**: the studies or the MobileNetV2 grid are not complete "
                  "(counts below). Continue with the command below; it resumes.", ""]
    lines += [
        f"- Command: `{results['command']}` (from the repository root; re-running it resumes)",
        f"- Finished: {results['finished']} UTC; wall time {results['wall_time_s'] / 60:.1f} min over "
        f"{len(results['sessions'])} session(s)",
        f"- Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, {m['platform']}, Python {m['python']}",
        "- Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        f"- Data: `{json.dumps(search['dataset'])}`; training: `{json.dumps(search['training'])}`",
        f"- Search space: `{json.dumps(search['search_space'])}`; objectives {', '.join(search['objectives'])}; "
        f"{results['n_trials']} trials per study (MobileNetV2 reference trial included)",
        f"- Profiler: `{json.dumps(results['final_measurement']['profiler'])}`",
        f"- Final latency {'re-measured at the end, median of the p50s of ' + str(results['final_measurement']['latency_repeats']) + ' rounds over all models in turn' if results['final_measurement']['latency_remeasured'] else 'from the search'}"
        f"; 1-min load before / after: {results['final_measurement']['load_before'][0]} / "
        f"{results['final_measurement']['load_after'][0]}",
        "",
        "| study | trials done | wall time (min) | trial time (min) |",
        "|---|---|---|---|",
    ]
    for name, record in results["studies"].items():
        wall = record["wall_time_s"]
        lines.append(f"| {name} ({record['study']}) | {record['n_done']} / {record['n_target']} | "
                     f"{_num(None if wall is None else wall / 60, '.1f')} | {record['trial_time_s_total'] / 60:.1f} |")
    lines += ["", "### Targets", "", "| target | @px | verdict | value | required | detail | would need |",
              "|---|---|---|---|---|---|---|"]
    for c in results["targets"]:
        value = _num(c["value"], ".3f")
        lines.append(f"| {c['description']} | {c['resolution']} | {'**met**' if c['met'] else '**missed**'} | "
                     f"{value} | {c['required']} | {c['detail']} | {c['needs'] or '-'} |")
    if not results["targets"]:
        lines.append("| (not computed: no searched front or no MobileNetV2 0.35 / 1.0 point yet) | | | | | | |")
    lines += ["", "### Hypervolumes (one reference point per row)", "",
              "| numbers | objectives | reference point | searched | random | MobileNetV2 |", "|---|---|---|---|---|---|"]
    for name, block in results["hypervolume"].items():
        ref = ", ".join(f"{k}={val:.6g}" for k, val in block["reference"].items())
        hv = block["hypervolume"]
        lines.append(f"| {name} | {', '.join(block['objectives'])} | {ref} | {hv['searched']:.6g} | "
                     f"{hv['random']:.6g} | {hv['mobilenet_v2']:.6g} |")
    lines += ["", "Validation hypervolume (three objectives, search-time latency, reference of the validation row) "
              "of each study's front over its first n trials:", "",
              "| trials | searched | random | ratio | front sizes (searched / random) |", "|---|---|---|---|---|"]
    for row in results["hypervolume_by_trials_validation_3d"]:
        hv, sizes = row["hypervolume"], row["front_size"]
        ratio = hv["searched"] / hv["random"] if hv["random"] > 0 else None
        lines.append(f"| {row['trials']} | {hv['searched']:.6g} | {hv['random']:.6g} | {_num(ratio)} | "
                     f"{sizes['searched']} / {sizes['random']} |")
    lines += ["", "### Front models and MobileNetV2 points (int8, test split)", "",
              "| kind | model | test acc | val acc | latency p50 (ms) | p50 range over rounds (ms) | search-time p50 (ms) "
              "| size (KB) | MACs (M) | params (k) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results["rows"]:
        lines.append(
            f"| {r['kind']} | {r['model']} | {_pct(r['accuracy_int8_test'])} | {_pct(r['accuracy_int8_val'])} | "
            f"{_num(r['latency_ms_p50'])} | {_range(r.get('latency_ms_p50_each_round'))} | "
            f"{_num(r['latency_ms_p50_search'])} | {r['size_bytes'] / 1024:.1f} | "
            f"{_num(r['macs'] / 1e6, '.2f')} | {_num(r['params'] / 1e3, '.1f')} |")
    lines += ["", "Architectures of the front models:", ""]
    for r in results["rows"]:
        if r["kind"] != "mobilenet_v2":
            lines.append(f"- {r['model']}: `{r['architecture']}`")
    lines += ["", f"![Pareto chart: int8 test accuracy against latency]({png_name})", "", END]
    return "\n".join(lines) + "\n"


def write_doc(path: Path, section: str, *, title: str) -> None:
    """Replace the marked section of ``path`` (or create the file holding just the section)."""
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    if START in text and END in text:
        head, rest = text.split(START, 1)
        tail = rest.split(END, 1)[1]
        text = head + section.rstrip("\n") + tail
    else:
        text = (text or f"# {title}\n\n") + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def write_outputs(bench: Any, results: dict[str, Any]) -> None:
    import os

    points = results.pop("_points")
    bench.json_path.parent.mkdir(parents=True, exist_ok=True)
    bench.json_path.write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")
    title = (f"{results['search_config']['dataset'].get('name')}, {results['n_trials']} trials per study"
             f"{' (PARTIAL)' if results['partial'] else ''}; latency p50, "
             f"{results['final_measurement']['profiler'].get('threads')} thread(s)")
    save_chart(points, bench.png_path, title=title)
    png_name = os.path.relpath(bench.png_path.resolve(), bench.doc_path.resolve().parent)
    write_doc(bench.doc_path, markdown(results, png_name=png_name), title="Benchmarks")
    logger.info("wrote %s, %s, %s", bench.json_path, bench.png_path, bench.doc_path)
