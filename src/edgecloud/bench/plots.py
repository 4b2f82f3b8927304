"""The plot kinds benchmark reports use, each from plain numbers to a report Figure: empirical CDFs,
lines over a swept parameter, grouped or stacked bars. One colour per series name across a report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from edgecloud.bench.report import Figure, figure, new_figure

COLOURS = {
    "edge-only": "#2a9d8f",
    "cloud-only": "#e76f51",
    "hybrid": "#264653",
    "edge": "#2a9d8f",
    "cloud": "#e76f51",
}
_CYCLE = ("#264653", "#2a9d8f", "#e9c46a", "#f4a261", "#e76f51", "#8d99ae", "#6a4c93")


def colour(name: str, index: int) -> str:
    return COLOURS.get(name, _CYCLE[index % len(_CYCLE)])


def cdf(
    series: Mapping[str, Sequence[float]], title: str, xlabel: str, caption: str = "", scale: float = 1.0
) -> Figure:
    """Empirical CDF per series (values multiplied by `scale`, e.g. 1000 for ms)."""
    fig = new_figure()
    ax = fig.add_subplot()
    for i, (name, values) in enumerate(series.items()):
        ordered = sorted(v * scale for v in values)
        if not ordered:
            continue
        shares = [(k + 1) / len(ordered) for k in range(len(ordered))]
        ax.step(ordered, shares, where="post", label=f"{name} (n={len(ordered)})", color=colour(name, i))
    ax.axhline(0.95, color="#999", linestyle=":", linewidth=1)
    ax.set(title=title, xlabel=xlabel, ylabel="share of requests", ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return figure(fig, title, caption)


def lines(
    series: Mapping[str, Sequence[tuple[float, float]]],
    title: str,
    xlabel: str,
    ylabel: str,
    caption: str = "",
) -> Figure:
    """One line with markers per series over (x, y) points."""
    fig = new_figure()
    ax = fig.add_subplot()
    for i, (name, points) in enumerate(series.items()):
        if points:
            xs, ys = zip(*sorted(points), strict=True)
            ax.plot(xs, ys, marker="o", label=name, color=colour(name, i))
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    return figure(fig, title, caption)


def bars(
    categories: Sequence[str],
    series: Mapping[str, Sequence[float]],
    title: str,
    ylabel: str,
    caption: str = "",
    stacked: bool = False,
) -> Figure:
    """Grouped (or stacked) bars: one bar per series within each category."""
    fig = new_figure(max(7.0, 1.1 * len(categories)), 3.8)
    ax = fig.add_subplot()
    count = max(len(series), 1)
    width = 0.8 if stacked else 0.8 / count
    bottom = [0.0] * len(categories)
    for i, (name, values) in enumerate(series.items()):
        offset = 0.0 if stacked else (i - (count - 1) / 2) * width
        xs = [k + offset for k in range(len(categories))]
        ax.bar(xs, values, width, bottom=bottom if stacked else None, label=name, color=colour(name, i))
        if stacked:
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_xticks(range(len(categories)), categories, rotation=15 if len(categories) > 4 else 0)
    ax.set(title=title, ylabel=ylabel)
    ax.grid(alpha=0.3, axis="y")
    ax.legend()
    return figure(fig, title, caption)
