#!/usr/bin/env python3
"""Plots a weight search from its merge_report.json (docs/search.md):
the merged model's loss per evaluation (training and held-out batches) against
LM-Cocktail's softmax weights merged, and the weights tried.

    python3 tests/bench/plot_search.py merged/weight_search/merge_report.json docs/search_trajectory.png [0.6,0.4,0]

The optional last argument draws the weights the examples are known to come from.

Needs matplotlib.
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

report = json.load(open(sys.argv[1]))
choice = report["fewshot"]["choice"]
steps = choice["steps"]
names = [m["name"] for m in report["models"]]
x = list(range(1, len(steps) + 1))
fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
top.plot(x, [s["loss"] for s in steps], "o-", ms=3, label="merged model, training batches")
if "held_out_loss" in steps[0]:
    top.plot(x, [s["held_out_loss"] for s in steps], "s-", ms=3, label="merged model, held-out batches")
soft = choice["softmax_weights_merged"]
top.axhline(soft["loss"], color="C0", ls=":", label="softmax weights, training")
if "held_out_loss" in soft:
    top.axhline(soft["held_out_loss"], color="C1", ls=":", label="softmax weights, held-out")
best = choice["chosen_step"] + 1
top.axvline(best, color="grey", lw=0.8)
top.set_ylabel("few-shot loss")
top.legend(fontsize=8)
top.set_title(f"{choice['how']}: {len(steps)} merged models, chosen #{best}")
truth = [float(v) for v in sys.argv[3].split(",")] if len(sys.argv) > 3 else None
for i, name in enumerate(names):
    bottom.plot(x, [s["weights"][i] for s in steps], "o-", ms=3, color=f"C{i}", label=name)
    if truth:
        bottom.axhline(truth[i], color=f"C{i}", ls="--", lw=0.8)
bottom.axvline(best, color="grey", lw=0.8)
bottom.set_xlabel("evaluation")
bottom.set_ylabel("weight" + (" (dashed: the truth)" if truth else ""))
bottom.legend(fontsize=8)
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=110)
print("wrote", sys.argv[2])
