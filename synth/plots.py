"""Report figures (matplotlib, Agg backend, no screen needed)."""

from __future__ import annotations

__all__ = ["golden_figure"]


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
