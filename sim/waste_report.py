"""The policy comparison as a person reads it: a table and a plot."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no screen
import matplotlib.pyplot as plt  # noqa: E402

from sim.waste import PolicyResult  # noqa: E402

COLORS = {"fixed daily": "#999999", "forecast": "#2b7bba", "oracle": "#3a9e57"}


def table(results: list[PolicyResult], days: int, bins: int) -> str:
    fixed = next((r for r in results if r.name == "fixed daily"), None)
    oracle = next((r for r in results if r.name == "oracle"), None)
    lines = [f"{days} days, {bins} bins, {days * bins} bin-days",
             f"{'policy':<12} {'emptyings':>9} {'of fixed':>9} {'of oracle':>10} "
             f"{'overflow bin-days':>18} {'truck km':>9} {'crew h':>7} {'reports/bin/day':>15}"]
    for r in results:
        of_fixed = f"{r.emptyings / fixed.emptyings:.0%}" if fixed else "-"
        of_oracle = f"{r.emptyings / oracle.emptyings:.2f}x" if oracle else "-"
        lines.append(f"{r.name:<12} {r.emptyings:>9} {of_fixed:>9} {of_oracle:>10} "
                     f"{r.overflow_bin_days:>8} ({r.overflow_share:.2%}) "
                     f"{r.truck_km:>9.0f} {r.crew_hours:>7.0f} "
                     + (f"{r.reports / (bins * days):>15.1f}" if r.reports else f"{'-':>15}"))
    return "\n".join(lines)


def plot(results: list[PolicyResult], path: Path) -> Path:
    fig, (daily, totals) = plt.subplots(1, 2, figsize=(11, 4.2),
                                        gridspec_kw={"width_ratios": [2, 1]})
    for r in results:
        daily.plot(range(1, len(r.daily_emptyings) + 1), r.daily_emptyings, label=r.name,
                   color=COLORS.get(r.name), marker="o" if r.name == "forecast" else None,
                   markersize=3)
    daily.set_xlabel("day")
    daily.set_ylabel("bins emptied")
    daily.set_title("Emptyings per day")
    daily.legend()
    daily.grid(alpha=0.3)
    names = [r.name for r in results]
    bars = totals.bar(names, [r.emptyings for r in results],
                      color=[COLORS.get(n, "#555555") for n in names])
    for bar, r in zip(bars, results, strict=True):
        label = f"{r.overflow_bin_days} overflow"
        if r.truck_km:
            label += f"\n{r.truck_km:.0f} km, {r.crew_hours:.0f} crew h"
        totals.annotate(label, (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=8)
    totals.set_title("Emptyings in all")
    totals.set_ylim(0, max(r.emptyings for r in results) * 1.25 + 1)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
