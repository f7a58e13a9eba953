#!/usr/bin/env python3
"""Projects the wall time of a 10 x Llama-3-70B linear merge on 8 nodes x 8
GPUs from rates measured on this machine, for stated storage bandwidths, and
says which resource bounds it (docs/performance.md, issue 15):

    python3 tests/bench/project_70b.py docs/projection_70b.png [--cpu-rate 2.28] [--plan-seconds 0.89] ...

Every rate is an argument; the defaults are the measured ones (docs/performance.md,
"Full-shape jobs on sparse checkpoints") or, where nothing could be measured
here (no GPU, no cluster), a hardware figure named as such. The model: each
byte is read once and each output byte written once (the plan's totals); ranks
work independently after the plan, so the wall time is the start-up plus the
largest of

    storage   (read + written) / aggregate storage bandwidth
    network   a node's share of that / the node's NIC bandwidth (remote storage)
    compute   a rank's input / the rank's merge rate: the CPU path's measured
              rate per rank, or for the GPU path the host-to-device copy rate
              (the kernel reads HBM at ~3 TB/s, 1000x the input rate: never the bound)

Prints the table in Markdown and writes the plot. Needs matplotlib.
"""
import argparse

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("png")
p.add_argument("--model-gb", type=float, default=141.107, help="one candidate (Llama-3-70B bf16, cocktail_synth)")
p.add_argument("--candidates", type=int, default=10)
p.add_argument("--nodes", type=int, default=8)
p.add_argument("--ranks-per-node", type=int, default=8)
p.add_argument("--cpu-rate", type=float, default=2.28,
               help="input GB/s per rank on the CPU path, one core each (measured: 10 x 8B, 2 ranks, 160.6 GB in 35.2 s)")
p.add_argument("--cpu-cores-per-rank", type=int, default=1,
               help="compute threads per rank on the cluster (the CPU rate scales with them until memory bandwidth)")
p.add_argument("--pcie", type=float, default=25.0,
               help="host-to-device GB/s per GPU (hardware figure: PCIe 4 x16 practical; Gen5 about twice)")
p.add_argument("--nic", type=float, default=25.0, help="GB/s per node to remote storage (hardware figure: 200 Gb/s)")
p.add_argument("--plan-seconds", type=float, default=0.89, help="measured: 10 x 70B --dry-run, 1 rank")
p.add_argument("--mpi-seconds", type=float, default=2.0, help="launch and MPI start-up on 64 ranks (assumed)")
a = p.parse_args()

ranks = a.nodes * a.ranks_per_node
read = a.model_gb * a.candidates
written = a.model_gb
start = a.plan_seconds + a.mpi_seconds


def bounds(storage_gbps, path, remote):
    """Seconds each resource needs; the largest is the bound."""
    b = {"storage": (read + written) / storage_gbps}
    if remote:
        b["network"] = (read + written) / a.nodes / a.nic
    if path == "cpu":
        b["compute"] = read / ranks / (a.cpu_rate * a.cpu_cores_per_rank)
    else:
        b["compute"] = (read + written) / ranks / a.pcie
    return b


def wall(storage_gbps, path, remote):
    return start + max(bounds(storage_gbps, path, remote).values())


scenarios = [
    ("NFS server, 2 GB/s", 2.0, True),
    ("one NVMe per node (8 x 6 GB/s)", 8 * 6.0, False),
    ("Lustre/GPFS, 100 GB/s", 100.0, True),
    ("4 NVMe per node (8 x 24 GB/s)", 8 * 24.0, False),
    ("Lustre/GPFS, 400 GB/s", 400.0, True),
]

print(f"{a.candidates} x {a.model_gb:.1f} GB read, {written:.1f} GB written, {a.nodes} nodes x "
      f"{a.ranks_per_node} ranks; start-up {start:.1f} s\n")
print("| storage | path | storage s | network s | compute s | wall s | bound |")
print("|---|---|---|---|---|---|---|")
for name, bw, remote in scenarios:
    for path in ("cpu", "gpu"):
        b = bounds(bw, path, remote)
        bound = max(b, key=b.get)
        print(f"| {name} | {path} | {b['storage']:.1f} | {b.get('network', 0):.1f} | {b['compute']:.1f} | "
              f"{wall(bw, path, remote):.1f} | {bound} |")

xs = [1.5 * 1.08**i for i in range(95)]
fig, ax = plt.subplots(figsize=(8, 5))
for path, remote, style in (("cpu", True, "-"), ("gpu", True, "--")):
    ax.plot(xs, [wall(x, path, remote) for x in xs], style,
            label=(f"CPU path ({a.cpu_cores_per_rank} core/rank)" if path == "cpu" else "GPU path") +
            ", remote storage")
ax.plot(xs, [start + (read + written) / x for x in xs], ":", color="grey", label="storage alone (+ start-up)")
cpu_flat = start + read / ranks / (a.cpu_rate * a.cpu_cores_per_rank)
net_flat = start + (read + written) / a.nodes / a.nic
ax.axhline(cpu_flat, color="C0", lw=0.6)
ax.axhline(net_flat, color="C3", lw=0.6)
ax.text(xs[-1], cpu_flat, " CPU merge rate", va="bottom", ha="right", color="C0", fontsize=8)
ax.text(xs[-1], net_flat, " node NIC", va="top", ha="right", color="C3", fontsize=8)
ax.set_xscale("log")
ax.set_yscale("log")
top = ax.get_ylim()[1]
for name, bw, remote in scenarios:
    ax.axvline(bw, color="grey", lw=0.4)
    ax.text(bw, top, name, rotation=90, va="top", ha="right", fontsize=7)
ax.set_xlabel("aggregate storage bandwidth, GB/s (reads and writes share it)")
ax.set_ylabel("projected wall time, s")
ax.set_title(f"{a.candidates} x Llama-3-70B linear merge on {a.nodes} nodes x {a.ranks_per_node} GPUs")
ax.legend(loc="lower left", fontsize=8)
fig.tight_layout()
fig.savefig(a.png, dpi=110)
print(f"\nwrote {a.png}")
