"""Report figures (matplotlib, Agg backend, no screen needed)."""

from __future__ import annotations

import math

__all__ = ["golden_figure", "pareto_figure", "layer_spikes_figure", "area_k_figure"]


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def golden_figure(data, path):
    """Spikes per neuron, energy proxy and rate-coding accuracy against T."""
    plt = _plt()
    g = data["golden"]
    codings = list(g["codings"])
    fig, ax = plt.subplots(1, 3, figsize=(15, 4.2))
    spn = [g["codings"][c]["spikes_per_neuron"] for c in codings]
    ax[0].bar(codings, spn, color="tab:blue")
    ax[0].set_ylabel("spikes per neuron per inference")
    ax[0].set_yscale("log" if max(spn) > 20 * max(min(s for s in spn if s > 0), 1e-9) else "linear")
    ax[0].set_title("spikes (input encoding included)")
    parts = ["synaptic_adds", "state_updates", "multiplications", "memory_reads"]
    bottom = [0.0] * len(codings)
    for p in parts:
        vals = [g["codings"][c]["energy_pj"][p] for c in codings]
        ax[1].bar(codings, vals, bottom=bottom, label=p.replace("_", " "))
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax[1].set_ylabel("energy proxy per inference (pJ)")
    ax[1].set_title("energy proxy (Horowitz 2014, 45 nm)")
    ax[1].legend(fontsize=8)
    for c, style in (("if", "-"), ("lif", "--")):
        for norm, marker in (("max", "o"), ("robust", "s")):
            pts = [s for s in g["rate_sweep"] if s["coding"] == c and s["norm"] == norm]
            ax[2].plot([s["time_steps"] for s in pts], [100 * s["accuracy"] for s in pts],
                       style, marker=marker, label=f"{c}, {norm} norm")
    ann_acc = 100 * g["codings"]["ann"]["accuracy"]
    ax[2].axhline(ann_acc, color="k", lw=0.8, label="integer ANN = FS = AMOS = TTFS")
    ax[2].set_xscale("log", base=2)
    ax[2].set_xlabel("time steps T")
    ax[2].set_ylabel("test accuracy (%)")
    ax[2].set_title("rate codings against time steps")
    ax[2].legend(fontsize=8)
    fig.suptitle(f"{g['network']}: golden models")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def pareto_figure(data, path):
    """Energy proxy against accuracy for every coding and rate-coding time step; Pareto front marked."""
    plt = _plt()
    g = data["golden"]
    pts = [(e["energy_pj"]["total"], 100 * e["accuracy"], c) for c, e in g["codings"].items()]
    pts += [(s["energy_pj"], 100 * s["accuracy"], f"{s['coding']} T={s['time_steps']} ({s['norm']})")
            for s in g["rate_sweep"]]
    front, best = [], -1.0
    for e, a, label in sorted(pts):
        if a > best:
            front.append((e, a))
            best = a
    fig, ax = plt.subplots(figsize=(8, 5))
    seen = {}
    for e, a, label in pts:
        main = label in g["codings"]
        ax.scatter(e, a, s=50 if main else 14, color="tab:red" if main else "tab:gray", zorder=3)
        if main:                      # stack labels of points that coincide
            key = (round(math.log10(e), 1), round(a, 2))       # within ~25 % in energy
            k = seen.setdefault(key, 0)
            seen[key] += 1
            ax.annotate(label, (e, a), textcoords="offset points", xytext=(5, 4 + 11 * k), fontsize=9)
    xmax = max(p[0] for p in pts)
    ax.step([p[0] for p in front] + [xmax], [p[1] for p in front] + [front[-1][1]], where="post",
            color="tab:blue", label="Pareto front (lower energy, higher accuracy)")
    ax.scatter([p[0] for p in front], [p[1] for p in front], s=110, facecolors="none",
               edgecolors="tab:blue", zorder=4)
    ax.set_xscale("log")
    ax.set_xlabel("energy proxy per inference (pJ, log scale)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{g['network']}: energy proxy against accuracy (grey: rate codings over T)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def layer_spikes_figure(data, path):
    """Spikes per neuron in every spiking stage of every coding."""
    plt = _plt()
    g = data["golden"]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    pos, labels, x = [], [], 0.0
    for c, e in g["codings"].items():
        for k, l in enumerate(l for l in e["layers"] if l["neurons"]):
            ax.bar(x, l["spikes_per_neuron"], color=f"C{k}")
            pos.append(x)
            labels.append(f"{c}\n{l['name']}")
            x += 1
        x += 0.5
    ax.set_xticks(pos)
    ax.set_xticklabels(labels, fontsize=7)
    ax.set_ylabel("spikes per neuron per inference")
    ax.set_yscale("log")
    ax.set_title(f"{g['network']}: spikes per neuron in each stage (the ANN sends values, no spikes)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def area_k_figure(data, path):
    """iCE40 logic cells against K per core."""
    plt = _plt()
    k = data["k_sweep"]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for c in dict.fromkeys(p["core"] for p in k["points"]):
        pts = [p for p in k["points"] if p["core"] == c]
        ax.plot([p["K"] for p in pts], [p["logic_cells"] for p in pts], marker="o", label=c)
    ax.set_xlabel("K (steps, neurons or data bits)")
    ax.set_ylabel("iCE40UP5K logic cells (harness included)")
    ax.set_title("area against K")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
