"""Summarise a compare.sh output folder as Markdown tables with SpotTrain/peer ratios.

  python3 summarize.py OUT_DIR
  python3 summarize.py --reached {peer|spottrain} OUT_DIR/NAME TARGET   (exit 0 once reached)

Standard library only. Inputs (all written by compare.sh):
  NAME.out    peers: `key=value` lines (torch_cnn.py / keras_cnn.py)
  NAME.jsonl  spottrain: MetricsLogger epoch records; `samples_per_second` there is
              cumulative (all training samples / all training-step seconds so far), so
              the training seconds up to epoch e are samples(e) / samples_per_second(e)
  NAME.time   /usr/bin/time -v of the run (peak RSS, CPU)
  NAME.save   spottrain: checkpoint-save-timing output
  sgemm.out   sgemm_peak lines
"""
import glob
import json
import os
import re
import statistics
import sys

MFLOP_PER_SAMPLE = 71.6  # forward + backward of the mnist_cnn per training sample
STEPS_EPOCH_SAMPLES = 1280  # compare.sh's spottrain steps mode: --train-limit 1280
TRAIN_SAMPLES = 60000


def kv_rows(path):
    rows = []
    if not os.path.exists(path):
        return rows
    for line in open(path, errors="replace"):
        toks = line.split()
        if toks and re.fullmatch(r"[a-z_]+", toks[0]):
            toks = toks[1:]  # a leading tag such as `sgemm` or `checkpoint_save`
        if toks and all("=" in t for t in toks):
            rows.append(dict(t.split("=", 1) for t in toks))
    return rows


def jsonl_epochs(path):
    if not os.path.exists(path):
        return []
    recs = []
    for line in open(path):
        line = line.strip()
        if not line:
            continue
        try:
            r = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a stopped run
        if r.get("event") == "epoch":
            recs.append(r)
    return sorted(recs, key=lambda r: r["epoch"])


def time_stats(path):
    """Peak RSS (MB), CPU seconds and wall seconds from /usr/bin/time -v."""
    out = {}
    if not os.path.exists(path):
        return out
    text = open(path).read()
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    if m:
        out["rss_mb"] = int(m.group(1)) / 1024
    user = re.search(r"User time \(seconds\): ([\d.]+)", text)
    system = re.search(r"System time \(seconds\): ([\d.]+)", text)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text)
    if user and system and wall:
        parts = [float(p) for p in wall.group(1).split(":")]
        secs = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
        out["cpu_s"] = float(user.group(1)) + float(system.group(1))
        out["wall_s"] = secs
        out["cpu_util"] = out["cpu_s"] / secs if secs > 0 else float("nan")
    return out


def spottrain_epochs(path, epoch_samples):
    """Per-epoch rows from a spottrain metrics file: cumulative and per-epoch training seconds."""
    rows, prev = [], 0.0
    for r in jsonl_epochs(path):
        e = int(r["epoch"])
        sps = r.get("samples_per_second") or 0
        cum = e * epoch_samples / sps if sps else float("nan")
        rows.append({"epoch": e, "cum_train_s": cum, "train_s": cum - prev,
                     "epoch_seconds": r.get("epoch_seconds"), "test_acc": r.get("val_accuracy"),
                     "cumulative_sps": sps})
        prev = cum
    return rows


def reached(kind, prefix, target):
    if kind == "peer":
        return any(float(r.get("test_acc", "nan")) >= target for r in kv_rows(prefix + ".out"))
    recs = jsonl_epochs(prefix + ".jsonl")
    hit = [r for r in recs if (r.get("val_accuracy") or 0) >= target]
    if not hit:
        return False
    # Wait until the checkpoint of that epoch is on disk (ModelCheckpoint runs after the logger).
    ckpt_dir = os.path.join(os.path.dirname(prefix), "ckpt", os.path.basename(prefix))
    files = [f for f in glob.glob(os.path.join(ckpt_dir, "ckpt-*")) if ".tmp" not in f]
    return len(files) >= len(recs)


def med(xs):
    xs = [x for x in xs if x == x]
    return statistics.median(xs) if xs else float("nan")


def fmt_range(xs, f="{:.0f}"):
    xs = [x for x in xs if x == x]
    if not xs:
        return "–"
    if len(xs) == 1:
        return f.format(xs[0])
    return (f + " ({}–{})").format(statistics.median(xs), f.format(min(xs)), f.format(max(xs)))


def steps_results(out):
    """{framework: [run dicts]} for the steady-state runs."""
    res = {}
    for path in sorted(glob.glob(os.path.join(out, "steps_*_r*.time"))):
        name = os.path.basename(path)[:-5]
        fw = re.match(r"steps_(.+)_r\d+$", name).group(1)
        t = time_stats(path)
        run = {"rss_mb": t.get("rss_mb", float("nan")), "round": name.rsplit("_r", 1)[1]}
        if fw == "spottrain":
            ep = spottrain_epochs(os.path.join(out, name + ".jsonl"), STEPS_EPOCH_SAMPLES)
            if len(ep) < 2:
                continue
            timed = ep[-1]["cum_train_s"] - ep[0]["cum_train_s"]
            run["sps"] = (ep[-1]["epoch"] - ep[0]["epoch"]) * STEPS_EPOCH_SAMPLES / timed
            run["sps_incl_first"] = ep[-1]["cumulative_sps"]
            run["cpu_util"] = t.get("cpu_util", float("nan"))  # whole process (incl. loading MNIST)
        else:
            rows = [r for r in kv_rows(os.path.join(out, name + ".out")) if r.get("mode") == "steps"]
            if not rows:
                continue
            run["sps"] = float(rows[-1]["samples_per_s"])
            run["cpu_util"] = float(rows[-1].get("cpu_util", "nan"))  # timed steps only
        res.setdefault(fw, []).append(run)
    return res


def epochs_results(out, target):
    res = {}
    for path in sorted(glob.glob(os.path.join(out, "epochs_*_r*.time"))):
        name = os.path.basename(path)[:-5]
        fw = re.match(r"epochs_(.+)_r\d+$", name).group(1)
        t = time_stats(path)
        run = {"rss_mb": t.get("rss_mb", float("nan"))}
        if fw == "spottrain":
            ep = spottrain_epochs(os.path.join(out, name + ".jsonl"), TRAIN_SAMPLES)
            rows = [{"epoch": e["epoch"], "train_s": e["train_s"], "test_acc": e["test_acc"],
                     "eval_s": (e["epoch_seconds"] or 0) - e["train_s"]} for e in ep]
            save = kv_rows(os.path.join(out, name + ".save"))
            save = [r for r in save if "save_ms_median" in r]
            if save:
                run["ckpt_ms"] = float(save[-1]["save_ms_median"])
                run["ckpt_note"] = "capture+write+fsync, re-timed"
                run["ckpt_bytes"] = int(save[-1]["bytes"])
        else:
            rows = []
            for r in kv_rows(os.path.join(out, name + ".out")):
                if "epoch_s" in r and "test_acc" in r:
                    rows.append({"epoch": int(r["epoch"]), "train_s": float(r["epoch_s"]),
                                 "test_acc": float(r["test_acc"]), "eval_s": float(r.get("eval_s", "nan")),
                                 "ckpt_ms": float(r.get("ckpt_save_ms", "nan")) + float(r.get("ckpt_fsync_ms", "nan")),
                                 "ckpt_bytes": int(r.get("ckpt_bytes", "0"))})
            ck = [r["ckpt_ms"] for r in rows if r["ckpt_ms"] == r["ckpt_ms"]]
            if ck:
                run["ckpt_ms"] = med(ck)
                run["ckpt_note"] = "save + extra fsync"
                run["ckpt_bytes"] = rows[-1]["ckpt_bytes"]
        if not rows:
            continue
        run["epochs"] = len(rows)
        run["epoch_train_s"] = med([r["train_s"] for r in rows])
        run["accs"] = [r["test_acc"] for r in rows]
        hit = next((i for i, r in enumerate(rows) if (r["test_acc"] or 0) >= target), None)
        if hit is not None:
            run["epochs_to_target"] = rows[hit]["epoch"]
            run["train_s_to_target"] = sum(r["train_s"] for r in rows[:hit + 1])
            run["train_eval_s_to_target"] = sum(r["train_s"] + r["eval_s"] for r in rows[:hit + 1])
        res.setdefault(fw, []).append(run)
    return res


def sgemm_peak(out):
    rows = [r for r in kv_rows(os.path.join(out, "sgemm.out")) if r.get("shape") == "square_2048"]
    return max((float(r["gflops_best"]) for r in rows), default=float("nan"))


def main(out, target=0.99):
    print(f"# SpotTrain vs peers: {out}\n")
    env = os.path.join(out, "environment.txt")
    if os.path.exists(env):
        print("```\n" + open(env).read().strip() + "\n```\n")
    peak = sgemm_peak(out)

    steps = steps_results(out)
    if steps:
        print("## Steady-state training throughput (batch 128; 10 warm-up steps excluded, 100 timed)\n")
        print("| framework | runs | samples/s median (min–max) | dense-equivalent GFLOP/s | % of sgemm 2048³ peak | cpu_util | peak RSS MB |")
        print("|---|---|---|---|---|---|---|")
        for fw, runs in steps.items():
            sps = [r["sps"] for r in runs]
            g = med(sps) * MFLOP_PER_SAMPLE / 1e3
            print(f"| {fw} | {len(runs)} | {fmt_range(sps)} | {g:.1f} | {100 * g / peak:.0f} % | "
                  f"{fmt_range([r['cpu_util'] for r in runs], '{:.2f}')} | {fmt_range([r['rss_mb'] for r in runs])} |")
        if "spottrain" in steps:
            incl = [r["sps_incl_first"] for r in steps["spottrain"]]
            print(f"\nspottrain's own `samples_per_second` (all 110 steps, first included): {fmt_range(incl)}")
            print(f"sgemm 2048³ peak, best of the runs at the start and end: {peak:.1f} GFLOP/s")
            print(f"(GFLOP/s = {MFLOP_PER_SAMPLE} MFLOP per sample, the direct count, × samples/s. spottrain's "
                  "conv2 computes its forward pass with Winograd's F(2x2, 3x3) and skips the zero terms of "
                  "its sparse output gradient, so for spottrain this is more than the arithmetic it does "
                  "and can exceed the sgemm peak.)")
            st = med([r["sps"] for r in steps["spottrain"]])
            for fw, runs in steps.items():
                if fw == "spottrain":
                    continue
                # per-round ratios as well as the ratio of medians
                by_round = {r["round"]: r["sps"] for r in runs}
                rr = [s["sps"] / by_round[s["round"]] for s in steps["spottrain"] if s["round"] in by_round]
                print(f"- spottrain / {fw}: {st / med([r['sps'] for r in runs]):.2f}x (ratio of medians; "
                      f"per round {', '.join(f'{x:.2f}' for x in rr)})")
        print()

    epochs = epochs_results(out, target)
    if epochs:
        print(f"## Time to {100 * target:g} % test accuracy (full epochs, test set and checkpoint after each)\n")
        print("| framework | epochs run | epoch to target | training s to target | incl. eval s | training s/epoch | "
              "checkpoint ms (how) | checkpoint bytes | peak RSS MB | test accuracy per epoch |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for fw, runs in epochs.items():
            for r in runs:
                print(f"| {fw} | {r['epochs']} | {r.get('epochs_to_target', 'not reached')} | "
                      f"{r.get('train_s_to_target', float('nan')):.1f} | {r.get('train_eval_s_to_target', float('nan')):.1f} | "
                      f"{r['epoch_train_s']:.1f} | {r.get('ckpt_ms', float('nan')):.0f} ({r.get('ckpt_note', '–')}) | "
                      f"{r.get('ckpt_bytes', 0):,} | {r['rss_mb']:.0f} | {' '.join(f'{a:.4f}' for a in r['accs'])} |")
        if "spottrain" in epochs:
            s = epochs["spottrain"]
            for fw, runs in epochs.items():
                if fw == "spottrain":
                    continue
                parts = []
                a = med([r.get("train_s_to_target", float("nan")) for r in runs])
                b = med([r.get("train_s_to_target", float("nan")) for r in s])
                if a == a and b == b:
                    parts.append(f"training time to target {fw}/spottrain {a / b:.2f}")
                parts.append(f"training s/epoch {fw}/spottrain {med([r['epoch_train_s'] for r in runs]) / med([r['epoch_train_s'] for r in s]):.2f}")
                ca, cb = med([r.get("ckpt_ms", float("nan")) for r in runs]), med([r.get("ckpt_ms", float("nan")) for r in s])
                parts.append(f"checkpoint time {fw}/spottrain {ca / cb:.2f}")
                ra, rb = med([r["rss_mb"] for r in runs]), med([r["rss_mb"] for r in s])
                parts.append(f"peak RSS spottrain/{fw} {rb / ra:.2f}")
                print(f"- spottrain vs {fw} (time ratios above 1: spottrain faster): " + "; ".join(parts))
        print()


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--reached":
        kind, prefix, target = sys.argv[2], sys.argv[3], float(sys.argv[4])
        sys.exit(0 if reached(kind, prefix, target) else 1)
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 0.99)
