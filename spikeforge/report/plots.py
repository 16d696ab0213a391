"""Report figures (matplotlib, Agg backend, no screen needed).

Each function reads a :class:`~spikeforge.report.records.ReportData` and
writes one PNG. Every coding has one colour in every figure
(:data:`COLOURS`); labels next to points are placed where they overlap no
other label, point or the title (:func:`place_labels`).
"""

from __future__ import annotations

from ..models.registry import CORES, REFERENCE
from .records import pareto_front

__all__ = ["golden_figure", "pareto_figure", "layer_spikes_figure", "area_k_figure", "circuit_pareto_figure",
           "place_labels", "COLOURS"]

#: one colour per coding, in registry order (the reference in grey)
COLOURS = {c.name: ("tab:gray" if c.is_reference else f"C{k}") for k, c in enumerate(CORES.values())}
NORM_MARKERS = {"max": "^", "robust": "s"}
RATE = tuple(c.name for c in CORES.values() if c.time_steps)       # the rate codings
STAGE_COLOURS = ("tab:cyan", "tab:olive", "tab:pink", "tab:brown", "tab:gray")


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path, plt):
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def place_labels(ax, items, fontsize=8):
    """Annotate points so that no label overlaps another label, a point or the axes' edges.

    Each label tries offsets on rings of growing distance around its point and
    takes the first free place; far placements get a thin leader line.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    items : list of (x, y, text, dict)
        Points in data coordinates, their labels and extra text properties.
    fontsize : float
    """
    from matplotlib.transforms import Bbox

    fig = ax.figure
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    frame = ax.get_window_extent(r)
    taken = [ax.title.get_window_extent(r)]
    for x, y, _t, _kw in items:                       # every point is a small obstacle
        px, py = ax.transData.transform((x, y))
        taken.append(Bbox.from_extents(px - 5, py - 5, px + 5, py + 5))
    rings = [(d, dx, dy) for d in (6, 16, 28, 42) for dx, dy in
             ((1, 0.4), (1, -1.2), (-1, 0.4), (-1, -1.2), (0, 1), (0, -1.6), (1, 1), (-1, 1))]
    for x, y, text, kw in items:
        for d, dx, dy in rings:
            ha = "left" if dx > 0 else "right" if dx < 0 else "center"
            arrow = {"arrowstyle": "-", "lw": 0.5, "color": "0.5"} if d > 16 else None
            t = ax.annotate(text, (x, y), xytext=(dx * d, dy * d), textcoords="offset points", ha=ha,
                            va="center", fontsize=fontsize, arrowprops=arrow, **kw)
            bb = t.get_window_extent(r).expanded(1.04, 1.15)
            inside = (bb.x0 >= frame.x0 and bb.x1 <= frame.x1 and bb.y0 >= frame.y0 and bb.y1 <= frame.y1)
            if inside and not any(bb.overlaps(o) for o in taken):
                taken.append(bb)
                break
            t.remove()
        else:                                         # no free place: the first one, marked faint
            ax.annotate(text, (x, y), xytext=(6, 3), textcoords="offset points", fontsize=fontsize,
                        alpha=0.6, **kw)


def golden_figure(data, path):
    """Spikes per neuron, energy proxy and rate-coding accuracy against T."""
    plt = _plt()
    g = data.golden
    codings = list(g.codings)
    fig, ax = plt.subplots(1, 3, figsize=(15, 4.2))
    spn = [g.codings[c].spikes_per_neuron for c in codings]
    ax[0].bar(codings, spn, color=[COLOURS.get(c, "k") for c in codings])
    ax[0].set_ylabel("spikes per neuron per inference")
    ax[0].set_yscale("log" if max(spn) > 20 * max(min(s for s in spn if s > 0), 1e-9) else "linear")
    ax[0].set_title("spikes (input encoding included)")
    parts = ["synaptic_adds", "state_updates", "multiplications", "memory_reads"]
    bottom = [0.0] * len(codings)
    for p in parts:
        vals = [g.codings[c].energy_pj[p] for c in codings]
        ax[1].bar(codings, vals, bottom=bottom, label=p.replace("_", " "))
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax[1].set_ylabel("energy proxy per inference (pJ)")
    ax[1].set_title("energy proxy (Horowitz 2014, 45 nm)")
    ax[1].legend(fontsize=8)
    for c, style in zip(RATE, ("-", "--", "-.", ":")):
        for norm, marker in NORM_MARKERS.items():
            pts = [s for s in g.rate_sweep if s.coding == c and s.norm == norm]
            ax[2].plot([s.time_steps for s in pts], [100 * s.accuracy for s in pts], style, marker=marker,
                       color=COLOURS[c], alpha=1.0 if norm == "max" else 0.6, label=f"{c}, {norm} norm")
    ann_acc = g.codings[REFERENCE].accuracy
    same = [c.upper() for c, e in g.codings.items() if c != REFERENCE and e.accuracy == ann_acc]
    ax[2].axhline(100 * ann_acc, color="k", lw=0.8, label=" = ".join(["integer ANN"] + same))
    ax[2].set_xscale("log", base=2)
    ax[2].set_xlabel("time steps T")
    ax[2].set_ylabel("test accuracy (%)")
    ax[2].set_title("rate codings against time steps")
    ax[2].legend(fontsize=8)
    fig.suptitle(f"{g.network}: golden models")
    fig.tight_layout()
    _save(fig, path, plt)


def pareto_figure(data, path):
    """Energy proxy against accuracy for every coding and every rate-coding time step.

    The Pareto front (no other point has both less energy and higher accuracy)
    is drawn as the staircase that bounds the region it dominates.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    plt = _plt()
    g = data.golden
    main = [(e.total_pj, 100 * e.accuracy, c) for c, e in g.codings.items()]
    rate = [(s.energy_pj, 100 * s.accuracy, s) for s in g.rate_sweep]
    front = pareto_front(main + [(e, a, f"{s.coding} T={s.time_steps}") for e, a, s in rate])
    fig, ax = plt.subplots(figsize=(10, 5.5))
    for c in RATE:
        for norm, marker in NORM_MARKERS.items():
            pts = sorted((s.time_steps, e, a) for e, a, s in rate if s.coding == c and s.norm == norm)
            ax.plot([p[1] for p in pts], [p[2] for p in pts], ":", marker=marker, ms=5, lw=0.8,
                    color=COLOURS[c], alpha=0.8, zorder=2)
    for k, (e, a, c) in enumerate(main):       # a point drawn over an equal one is smaller
        under = sum(1 for e2, a2, _c in main[:k] if abs(a2 - a) < 0.05 and abs(e2 / e - 1) < 0.05)
        ax.scatter(e, a, s=130 / (1 + 1.6 * under), color=COLOURS.get(c, "k"), edgecolors="k",
                   linewidths=0.8, zorder=4 + k)
    ax.set_xscale("log")
    ax.margins(x=0.08, y=0.12)
    x0, x1 = ax.get_xlim()
    y0, _y1 = ax.get_ylim()
    xs, ys = [front[0][0], front[0][0]], [y0, front[0][1]]
    for (e, a, _l) in front[1:]:
        xs += [e, e]
        ys += [ys[-1], a]
    xs.append(x1)
    ys.append(ys[-1])
    ax.plot(xs, ys, color="k", lw=1.2, zorder=3)
    ax.fill_between(xs, y0, ys, color="0.85", alpha=0.35, zorder=1)
    ax.set_xlim(x0, x1)
    ax.set_ylim(bottom=y0)
    ax.set_xlabel("energy proxy per inference (pJ, log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{g.network}: energy proxy against accuracy")
    items = [(e, a, c, {"fontweight": "bold", "color": COLOURS.get(c, "k")}) for e, a, c in main]
    items += [(e, a, f"T={s.time_steps}", {"color": COLOURS[s.coding]}) for e, a, s in rate]
    place_labels(ax, items)
    handles = [Line2D([], [], ls="", marker="o", ms=8, color=COLOURS.get(c, "k"), mec="k", label=c)
               for _e, _a, c in main]
    handles += [Line2D([], [], ls=":", marker=m, color="0.4", label=f"rate coding over T, {n} norm")
                for n, m in NORM_MARKERS.items()]
    handles += [Line2D([], [], color="k", label="Pareto front: " + ", ".join(l for _e, _a, l in front)),
                Patch(color="0.85", alpha=0.35, label="dominated by the front")]
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    _save(fig, path, plt)


def layer_spikes_figure(data, path):
    """Spikes per neuron in every spiking stage of every coding, coloured by stage."""
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter, LogLocator

    plt = _plt()
    g = data.golden
    stages = list(dict.fromkeys(s.stage for e in g.codings.values() for s in e.layers if s.neurons))
    colour = {s: STAGE_COLOURS[k % len(STAGE_COLOURS)] for k, s in enumerate(stages)}
    fig, ax = plt.subplots(figsize=(10, 4.8))
    centres, names, x, width = [], [], 0.0, 0.8
    for c, e in g.codings.items():
        spiking = [s for s in e.layers if s.neurons]
        xs = [x + k * width for k in range(len(spiking))]
        for xi, s in zip(xs, spiking):
            ax.bar(xi, s.spikes_per_neuron, width=width * 0.9, color=colour[s.stage], edgecolor="k", lw=0.4)
            ax.annotate(f"{s.spikes_per_neuron:.2f}", (xi, s.spikes_per_neuron), xytext=(0, 2),
                        textcoords="offset points", ha="center", va="bottom", fontsize=7)
        if not spiking:
            ax.text(x, 0.5, "no spikes\n(sends values)", transform=ax.get_xaxis_transform(),
                    ha="center", va="center", fontsize=8, color="0.4")
            xs = [x]
        centres.append(sum(xs) / len(xs))
        names.append(c)
        x = xs[-1] + width + 0.9
    ax.set_xticks(centres)
    ax.set_xticklabels(names)
    ax.set_xlim(-width, x - 0.9)
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_minor_locator(LogLocator(base=10, subs=(3.0, 4.0, 6.0, 7.0, 8.0, 9.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}"))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _p: ""))
    ax.set_ylim(top=ax.get_ylim()[1] * 1.6)
    ax.grid(axis="y", which="major", color="0.9", lw=0.6)
    ax.set_axisbelow(True)
    ax.set_ylabel("spikes per neuron per inference (log scale)")
    ax.set_title(f"{g.network}: spikes per neuron in each stage")
    ax.legend(handles=[Patch(facecolor=colour[s], edgecolor="k", lw=0.4, label=s) for s in stages],
              title="stage", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    _save(fig, path, plt)


def area_k_figure(data, path):
    """iCE40 logic cells against K per core."""
    plt = _plt()
    k = data.k_sweep
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for c in dict.fromkeys(p.core for p in k.points):
        pts = [p for p in k.points if p.core == c]
        ax.plot([p.K for p in pts], [p.logic_cells for p in pts], marker="o", label=c,
                color=COLOURS.get(c))
    ax.set_xlabel("K (steps, neurons or data bits)")
    ax.set_ylabel("iCE40UP5K logic cells (harness included)")
    ax.set_title("area against K")
    ax.legend()
    fig.tight_layout()
    _save(fig, path, plt)


def circuit_pareto_figure(data, path):
    """Network circuits: iCE40 logic cells against latency per inference, every coding and P,
    with the area–latency Pareto front (no other circuit both smaller and faster)."""
    plt = _plt()
    s = data.circuits
    pts = [(r.latency_us, r.ice40["logic_cells"], r) for r in s.rows
           if r.latency_us is not None and r.ice40.get("logic_cells")]
    fig, ax = plt.subplots(figsize=(8, 5))
    if pts:
        for lat, lc, r in pts:
            ax.scatter([lat], [lc], s=60, color=COLOURS.get(r.coding, "k"), edgecolor="k", zorder=4,
                       marker="o" if r.fits_up5k else "x")
        front = pareto_front([(lat, -lc, r) for lat, lc, r in pts])        # smaller area is "higher"
        ax.step([f[0] for f in front], [-f[1] for f in front], where="post", color="k", lw=1.2, zorder=3,
                marker="s" if len(front) == 1 else None, mfc="none", ms=14,
                label="Pareto front (area, latency)" + (": one circuit is both smallest and fastest"
                                                        if len(front) == 1 else ""))
        ax.set_xscale("log")
        place_labels(ax, [(lat, lc, f"{r.coding} P={r.p_name}", {"color": COLOURS.get(r.coding, "k")})
                          for lat, lc, r in pts])
    from ..synth.targets import get_target
    cap = get_target("ice40-up5k").capacity["logic_cells"]
    ax.axhline(cap, color="0.5", ls=":", lw=1)
    ax.text(ax.get_xlim()[0], cap, f" UP5K: {cap:,} LC", va="bottom", fontsize=8, color="0.4")
    missing = [f"{r.coding} P={r.p_name}" + (f" ({r.ice40['over']['ICESTORM_LC'][0]:,} LC)"
                                             if "ICESTORM_LC" in r.ice40.get("over", {}) else "")
               for r in s.rows if not any(r is q for _l, _c, q in pts)]
    if missing:                               # a caption under the axes, clear of the points
        fig.text(0.5, 0.01, "not placed on the UP5K: " + ", ".join(missing), ha="center", va="bottom",
                 fontsize=8, color="0.3")
    ax.set_xlabel("latency per inference at the iCE40 Fmax (µs, log scale)")
    ax.set_ylabel("iCE40UP5K logic cells (whole circuit, harness included)")
    ax.set_title(f"{s.dataset} network circuits: area against latency")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout(rect=(0, 0.04 if missing else 0, 1, 1))
    _save(fig, path, plt)
