"""The figure of docs/performance.md, drawn from bench/results.json (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

COLORS = {
    "streambridge": "#1f77b4",
    "per-record": "#d62728",
    "powertools": "#ff7f0e",
    "powertools+gql": "#ff7f0e",
}
MODE_STYLES = {"default": "o-", "per_key=10": "s--", "coalesce": "^-.", "batch_size=1": "x:"}


def draw(results: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 3, figsize=(16, 9.5))
    figure.suptitle(
        f"streambridge benchmarks, {results.get('date', '')} ({results.get('machine', '')})", fontsize=12
    )
    panels = [
        ("throughput", _throughput),
        ("coldstart", _coldstart),
        ("cpu", _cpu),
        ("scaling", _scaling_time),
        ("scaling", _scaling_cpu),
        ("scaling", _scaling_memory),
    ]
    for axis, (section, panel) in zip(axes.flat, panels, strict=True):
        if section in results:
            panel(axis, results[section])
        else:
            axis.set_axis_off()
            axis.text(0.5, 0.5, f"{section}: not measured", ha="center", va="center")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=80)
    plt.close(figure)
    return path


def _throughput(axis: Any, section: dict[str, Any]) -> None:
    rows = section["rows"]
    for implementation in ("streambridge", "per-record", "powertools"):
        for keys, style in ((1000, "-"), (100, "--")):
            points = sorted(
                (r["latency_ms"], section["records"] / r["wall_s"])
                for r in rows
                if r["implementation"] == implementation and r["keys"] == keys
            )
            if points:
                axis.plot(*zip(*points, strict=True), style, marker="o", color=COLORS[implementation],
                          label=f"{implementation}, {keys:,} keys")  # fmt: skip
    axis.set_yscale("log")
    axis.set_xlabel("injected latency (ms)")
    axis.set_ylabel("records/s (log)")
    axis.set_title(f"Throughput, {section['records']:,} DynamoDB records (~1 KB)")
    axis.grid(visible=True, which="both", alpha=0.3)
    axis.legend(fontsize=7)


def _coldstart(axis: Any, section: dict[str, Any]) -> None:
    names = list(section["imports"])
    sizes = sorted({r["records"] for r in section["first_call"]})
    labels = ["import", *(f"start to end of\nfirst call, {n} rec." for n in sizes)]
    width = 0.38
    for offset, name in enumerate(names):
        values = [section["imports"][name]["importtime_ms"]]
        values += [r["total_s"] * 1000 for r in sorted(section["first_call"], key=lambda r: r["records"])
                   if r["implementation"] == name]  # fmt: skip
        positions = [i + (offset - 0.5) * width for i in range(len(values))]
        bars = axis.bar(positions, values, width, label=name, color=COLORS.get(name, "grey"))
        axis.bar_label(bars, fmt="%.0f", fontsize=7)
    axis.set_xticks(range(len(labels)), labels, fontsize=8)
    axis.set_ylabel("ms")
    axis.set_title("Cold start (bytecode cached)")
    axis.legend(fontsize=8)


def _cpu(axis: Any, section: dict[str, Any]) -> None:
    phases = ("parse", "decode", "plan", "batch", "sign", "response", "gc")
    rows = section["rows"]
    bottoms = [0.0] * len(rows)
    for phase in phases:
        values = [max(r[phase], 0.0) for r in rows]
        axis.barh(range(len(rows)), values, left=bottoms, label=phase)
        bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    rest = [max(r["end_to_end"] - b, 0.0) for r, b in zip(rows, bottoms, strict=True)]
    axis.barh(range(len(rows)), rest, left=bottoms, label="rest", color="lightgrey")
    axis.axvline(30, color="black", linestyle=":", linewidth=1)
    axis.set_yticks(range(len(rows)), [r["case"].replace(", ", "\n", 1) for r in rows], fontsize=7)
    axis.set_xlabel("CPU µs per record (dotted: 30 µs target for parse..sign)")
    axis.set_title(f"CPU per record by phase ({section['records']:,} records)")
    axis.legend(fontsize=7, ncol=2)


def _scaling_rows(section: dict[str, Any], **match: Any) -> dict[str, list[dict[str, Any]]]:
    by_mode: dict[str, list[dict[str, Any]]] = {}
    for row in section["rows"]:
        if all(row[k] == v for k, v in match.items()):
            by_mode.setdefault(row["mode"], []).append(row)
    return by_mode


def _scaling_time(axis: Any, section: dict[str, Any]) -> None:
    records = max(r["records"] for r in section["rows"])
    for mode, rows in _scaling_rows(section, records=records).items():
        points = sorted((r["keys"], r["modeled_s"]) for r in rows)
        axis.plot(*zip(*points, strict=True), MODE_STYLES.get(mode, "o-"), label=mode)
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("partition keys (log)")
    axis.set_ylabel(f"time at {section['latency_ms']:.0f} ms latency, s (log)")
    axis.set_title(f"Scaling: {records:,} records over 1 to 1,000 keys")
    axis.grid(visible=True, which="both", alpha=0.3)
    axis.legend(fontsize=8)


def _scaling_cpu(axis: Any, section: dict[str, Any]) -> None:
    keys = max(r["keys"] for r in section["rows"])
    for mode, rows in _scaling_rows(section, keys=keys).items():
        points = sorted((r["records"], r["cpu_s"] * 1000) for r in rows)
        axis.plot(*zip(*points, strict=True), MODE_STYLES.get(mode, "o-"), label=mode)
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("records in the invocation (log)")
    axis.set_ylabel("client CPU, ms (log)")
    axis.set_title(f"Scaling: CPU per invocation, {keys:,} keys")
    axis.grid(visible=True, which="both", alpha=0.3)
    axis.legend(fontsize=8)


def _scaling_memory(axis: Any, section: dict[str, Any]) -> None:
    keys = max(r["keys"] for r in section["rows"])
    event: dict[int, float] = {}
    for mode, rows in _scaling_rows(section, keys=keys).items():
        points = sorted((r["records"], r["peak_bytes"] / 1e6) for r in rows)
        axis.plot(*zip(*points, strict=True), MODE_STYLES.get(mode, "o-"), label=f"peak, {mode}")
        event.update((r["records"], r["event_bytes"] / 1e6) for r in rows)
    sizes = sorted(event)
    axis.plot(sizes, [event[n] for n in sizes], "k-", linewidth=1, label="event JSON size")
    axis.plot(sizes, [3 * event[n] for n in sizes], "k:", linewidth=1, label="3x event (target)")
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("records in the invocation (log)")
    axis.set_ylabel("MB (log)")
    axis.set_title(f"Scaling: peak memory (tracemalloc), {keys:,} keys")
    axis.grid(visible=True, which="both", alpha=0.3)
    axis.legend(fontsize=7)
