"""GPU benchmark for ganzoo's CUDA fast path (one device call; see bench/gpu_bench.sh).

Sections, each guarded so one failure does not lose the others:

1. ``smoke``: every built-in family trains 40 steps on CUDA through the
   CUDA-graph path; reports whether the graph was captured and the losses.
2. ``throughput``: DCGAN on MNIST, images/s of (a) the pytorch/examples-style
   loop (bench/baseline_dcgan.py: torchvision DataLoader, 4 workers, fp32) and
   (b) ganzoo's engine (GPU-resident uint8 data, bf16 autocast, channels_last,
   the whole step as one CUDA graph), same process tree, same card.
   Images/s counts real images consumed per second over timed steps after
   warm-up (capture included in warm-up), synchronised before reading clocks.
3. ``quality``: candidate ``ganzoo train dcgan`` recipes (RECIPES below), FID
   of the EMA generator (ganzoo's protocol, 10,000 samples, scored on the GPU)
   at training-time marks, beside the pretrained dcgan-mnist scored the same
   way; a few snapshots come back for re-scoring on the CPU
   (``python bench/eval_gpu_runs.py --snapshots DIR``).
4. ``pretrained``: the four zoo models trained for 30 epochs with their
   papers' recipes by ``ganzoo train`` (the commands are printed and are the
   ones recorded in bench/RESULTS.md).

Usage: python bench/gpu_bench.py --data-dir DIR --out OUTDIR [--sections ...]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tarfile
import time
import traceback
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))


DEVICE = "cuda"
WORK = "/tmp/ganzoo-bench"  # scratch runs (--work)
RESULTS: dict = {}  # filled section by section; quality reads throughput's measured rates
DRY = False  # --dry: a tiny CPU run of every section, to catch mistakes before spending device time


def log(*a):
    print(*a, flush=True)


def sync():
    if DEVICE.startswith("cuda"):
        torch.cuda.synchronize()


def section(name, fn, results):
    t = time.time()
    log(f"\n=== {name} ===")
    try:
        results[name] = fn()
    except Exception as exc:  # keep going: one broken section must not lose the rest
        traceback.print_exc()
        results[name] = {"error": f"{type(exc).__name__}: {exc}"}
    log(f"=== {name} done in {time.time() - t:.1f}s ===")


def smoke(args):
    from ganzoo.engine import TrainConfig, Trainer

    out = {}
    for model in ("vanilla", "dcgan", "wgan-gp", "cgan"):
        t0 = time.time()
        shutil.rmtree(f"{WORK}/smoke-{model}", ignore_errors=True)
        tr = Trainer(TrainConfig(model=model, dataset="mnist", data_dir=args.data_dir, steps=4 if DRY else 40, out=f"{WORK}/smoke-{model}",
                                 device=DEVICE, quiet=True, log_every=20, sample_every=40, checkpoint_every=40))
        tr.fit()
        rows = [json.loads(r) for r in (tr.run_dir / "metrics.jsonl").read_text().splitlines()]
        out[model] = {"graph": tr._graph is not None, "last": rows[-1], "seconds": round(time.time() - t0, 2)}
        log(model, out[model])
    return out


def ganzoo_rate(args, batch_size, seconds=3.0, cuda_graph=True, model="dcgan", compile=False):
    """The engine's images/s on the real MNIST files (ganzoo.benchmark.throughput, as `ganzoo bench`)."""
    from ganzoo.benchmark import throughput

    return throughput(model, dataset="mnist", batch_size=batch_size, device=DEVICE, cuda_graph=cuda_graph,
                      compile=compile, seconds=0.05 if DRY else seconds, synthetic=False, data_dir=args.data_dir)


def baseline_rate(args, batch_size):
    js = f"{WORK}/baseline-{batch_size}.json"
    steps = 3 if DRY else {64: 600, 128: 400, 512: 150}.get(batch_size, 200)
    cmd = [sys.executable, str(HERE / "baseline_dcgan.py"), "--device", DEVICE, "--batch-size", str(batch_size),
           "--steps", str(steps), "--warmup", "1" if DRY else "20", "--workers", "4", "--data-dir", args.data_dir, "--json", js]
    log(" ".join(cmd))
    subprocess.run(cmd, check=True, timeout=240)
    return json.loads(Path(js).read_text())


def throughput(args):
    res = {"baseline": {}, "ganzoo": {}, "ganzoo_eager": {}}
    sizes = (8,) if DRY else (64, 128, 512)
    for bs in sizes:
        try:
            res["baseline"][bs] = baseline_rate(args, bs)
            log("baseline", bs, res["baseline"][bs]["images_per_s"])
        except Exception as exc:
            res["baseline"][bs] = {"error": str(exc)}
            log("baseline", bs, "failed", exc)
    for bs in (8,) if DRY else (64, 128, 512, 1024, 2048):
        res["ganzoo"][bs] = ganzoo_rate(args, bs)
        log("ganzoo", bs, res["ganzoo"][bs])
    for bs in (8,) if DRY else (128, 512):
        res["ganzoo_eager"][bs] = ganzoo_rate(args, bs, seconds=2.0, cuda_graph=False)
        log("ganzoo eager (no graph)", bs, res["ganzoo_eager"][bs])
    res["wgan-gp"] = {bs: ganzoo_rate(args, bs, seconds=2.0, model="wgan-gp") for bs in ((8,) if DRY else (64, 512))}
    log("wgan-gp", res["wgan-gp"])
    # --compile: off by default; measured here against the same batch's rows above. A failed
    # compile shows as "compiled": false (the engine fell back to eager, its notice is in the log).
    res["compile"] = {}
    for bs, graph in ((8, True),) if DRY else ((512, True), (512, False)):
        try:
            res["compile"][f"{bs}-{'graph' if graph else 'eager'}"] = ganzoo_rate(args, bs, seconds=2.0, cuda_graph=graph,
                                                                                   compile=True)
        except Exception as exc:
            res["compile"][f"{bs}-{'graph' if graph else 'eager'}"] = {"error": f"{type(exc).__name__}: {exc}"}
    log("compile", res["compile"])
    return res


# The quality sweep: candidate recipes for "the default `ganzoo train dcgan` reaches the pretrained
# dcgan-mnist's FID in <= 10 s". Constant-rate recipes are snapshotted at fixed training-time marks;
# decaying ones are sized to end at BUDGET_S (their schedule needs the run's length), from the
# throughput section's measured rate at their batch size.
BUDGET_S = 10.0
RECIPES = {
    "default": {},  # dcgan's MNIST recipe (batch 64, lr 2e-4, constant)
    "paper-bs128": {"batch_size": 128},
    "bs512-lr1e-3": {"batch_size": 512, "lr_g": 1e-3, "lr_d": 1e-3},
    "bs1024-lr1e-3": {"batch_size": 1024, "lr_g": 1e-3, "lr_d": 1e-3},
    "bs2048-lr2e-3": {"batch_size": 2048, "lr_g": 2e-3, "lr_d": 2e-3},
    "bs512-ttur": {"batch_size": 512, "lr_g": 5e-4, "lr_d": 2e-3},  # two time-scale: D faster (Heusel 2017)
    "bs512-lr1e-3-b0": {"batch_size": 512, "lr_g": 1e-3, "lr_d": 1e-3, "betas": (0.0, 0.99)},
    "bs256-lr5e-4-linear": {"batch_size": 256, "lr_g": 5e-4, "lr_d": 5e-4, "lr_schedule": "linear"},
    "bs512-lr1e-3-linear": {"batch_size": 512, "lr_g": 1e-3, "lr_d": 1e-3, "lr_schedule": "linear"},
    "bs512-lr2e-3-linear": {"batch_size": 512, "lr_g": 2e-3, "lr_d": 2e-3, "lr_schedule": "linear"},
    "bs512-lr1e-3-linear-half": {"batch_size": 512, "lr_g": 1e-3, "lr_d": 1e-3, "lr_schedule": "linear",
                                 "lr_decay_start": 0.5},
    "bs1024-lr2e-3-linear": {"batch_size": 1024, "lr_g": 2e-3, "lr_d": 2e-3, "lr_schedule": "linear"},
}
MARKS = (2.5, 5.0, 10.0)
SNAPSHOT_TARS = ("default", "bs512-lr1e-3", "bs512-lr1e-3-linear")  # files back are capped: keep a few for CPU re-scoring


def _fid(G, args, n=10_000):
    from ganzoo.metrics import evaluate

    was_training = G.training
    try:
        res = evaluate(G, "mnist", args.data_dir, n=256 if DRY else n, device=DEVICE, metrics=["fid"], floor=False)
    finally:
        G.train(was_training)
    return round(res.metrics["fid"], 3)


def quality(args):
    """Candidate recipes' FID (ganzoo's protocol, scored on this device) against training seconds.

    Training seconds count every step from the first (CUDA-graph capture included), not
    snapshot saving or scoring. The pretrained dcgan-mnist is scored the same way, as the bar.
    """
    from safetensors.torch import save_file

    import ganzoo
    from ganzoo.checkpoint import state_dict_tensors
    from ganzoo.engine import TrainConfig, Trainer

    snap_dir = Path(WORK) / "snapshots"
    shutil.rmtree(snap_dir, ignore_errors=True)
    snap_dir.mkdir()
    out = {"bar": {"dcgan-mnist": _fid(ganzoo.load("dcgan-mnist").to(DEVICE), args)}}
    log("bar: pretrained dcgan-mnist scored here", out["bar"])
    rates = (RESULTS.get("throughput") or {}).get("ganzoo", {})
    names = args.recipes.split(",") if args.recipes else list(RECIPES)
    for name in names:
        over = dict(RECIPES[name])
        if DRY:
            over["batch_size"] = max(8, over.get("batch_size", 64) // 32)
        bs = over.get("batch_size", 64)
        decaying = over.get("lr_schedule", "constant") != "constant"
        steps = 10**9
        if decaying:  # sized to end at the budget, from the measured rate at this batch size
            rate = (rates.get(bs) or {}).get("images_per_s")
            if not rate:
                rate = ganzoo_rate(args, bs, seconds=1.0)["images_per_s"]
            # 90%: warm-up and capture (about a second) count as training time too
            steps = max(10, int(0.9 * BUDGET_S * rate / bs)) if not DRY else 12
        marks = (0.5, 1.0) if DRY else ((BUDGET_S / 2, BUDGET_S) if decaying else MARKS)
        shutil.rmtree(f"{WORK}/quality-{name}", ignore_errors=True)
        tr = Trainer(TrainConfig(model="dcgan", dataset="mnist", data_dir=args.data_dir, steps=steps, device=DEVICE,
                                 quiet=True, out=f"{WORK}/quality-{name}", **over))
        step = tr._make_step()
        sync()
        t0 = time.perf_counter()
        rows = []
        for mark in marks:
            while time.perf_counter() - t0 < mark and tr.step < tr.total_steps:
                for _ in range(min(25, tr.total_steps - tr.step)):
                    step(*tr._batch(tr._next_indices()))
                    tr.step += 1
                sync()
            elapsed = time.perf_counter() - t0
            t_pause = time.perf_counter()
            row = {"mark_s": mark, "seconds": round(elapsed, 3), "step": tr.step, "images": tr.step * bs,
                   "epochs": round(tr.step / tr.steps_per_epoch, 2), "lr_g": tr.learning_rates()[0],
                   "fid": _fid(tr.G_ema, args)}
            if name in SNAPSHOT_TARS:
                save_file(state_dict_tensors(tr.G_ema), str(snap_dir / f"{name}-t{mark:g}.safetensors"),
                          metadata={"step": str(tr.step), "seconds": f"{elapsed:.3f}"})
            rows.append(row)
            log(name, row)
            t0 += time.perf_counter() - t_pause  # scoring and saving are not training time
            if tr.step >= tr.total_steps:
                break
        out[name] = {"config": {k: v for k, v in tr.config.to_json().items()
                                if k in ("batch_size", "lr_g", "lr_d", "betas", "ema_decay", "lr_schedule", "lr_decay_start")},
                     "steps": tr.total_steps if decaying else None, "snapshots": rows}
        del tr, step
        if DEVICE == "cuda":
            torch.cuda.empty_cache()
    for name in SNAPSHOT_TARS:  # one tar per recipe: files coming back are capped at 16 MiB each
        files = sorted(snap_dir.glob(f"{name}-t*.safetensors"))
        if files:
            with tarfile.open(Path(args.out) / f"snapshots-{name}.tar", "w") as tar:
                for f in files:
                    tar.add(f, arcname=f"snapshots/{f.name}")
    best = min(((r["fid"], n, r["seconds"]) for n in names for r in out[n]["snapshots"] if r["seconds"] <= BUDGET_S * 1.02),
               default=None)
    out["best_within_budget"] = best
    log("best within", BUDGET_S, "s:", best, "bar:", out["bar"])
    return out


PRETRAINED = {
    # run name: (model, extra CLI flags); each model's own paper recipe comes from its spec, 30 epochs
    "dcgan": ("dcgan", []),
    "cgan": ("cgan", []),
    "wgan-gp": ("wgan-gp", []),
    "vanilla": ("vanilla", []),
    # variants, run only when named with --zoo
    "cgan-ns": ("cgan", ["--loss", "non-saturating"]),
    "dcgan-100ep": ("dcgan", ["--epochs", "100"]),
}


def pretrained(args):
    out = {}
    for name in args.zoo.split(","):
        model, extra = PRETRAINED[name]
        epochs = [] if "--epochs" in extra else ["--epochs", "30"]
        run = Path(f"{WORK}/zoo/{name}-mnist")
        shutil.rmtree(run, ignore_errors=True)
        cmd = ["ganzoo", "train", model, "--dataset", "mnist", "--data-dir", args.data_dir,
               *(["--steps", "3", "--batch-size", "8"] if DRY else epochs), "--device", DEVICE, "--seed", "0", "--out", str(run), "--sample-every", "2000",
               "--checkpoint-every", "1000", "--log-every", "200", "-q", *extra]
        log("$ " + " ".join(cmd))
        t = time.time()
        proc = subprocess.Popen([sys.executable, "-m", "ganzoo", *cmd[1:]], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            stdout, stderr = proc.communicate(timeout=args.pretrain_timeout)
        except subprocess.TimeoutExpired:  # SIGTERM: the engine saves a checkpoint and stops
            proc.terminate()
            stdout, stderr = proc.communicate(timeout=60)
        dt = time.time() - t
        res = subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
        log(res.stdout[-500:], res.stderr[-1500:])
        rows = [json.loads(r) for r in (run / "metrics.jsonl").read_text().splitlines()] if (run / "metrics.jsonl").exists() else []
        out[name] = {"rc": res.returncode, "seconds": round(dt, 1), "last": rows[-1] if rows else None,
                      "command": " ".join(cmd)}
        keep = Path(f"{WORK}/zoo-keep/{name}-mnist")
        shutil.rmtree(keep, ignore_errors=True)
        keep.mkdir(parents=True)
        for fname in ("config.json", "metrics.jsonl"):
            if (run / fname).exists():
                shutil.copy(run / fname, keep / fname)
        samples = sorted((run / "samples").glob("*.png"))
        if samples:
            shutil.copy(samples[-1], keep / "samples.png")
        ckpts = sorted((run / "checkpoints").glob("step-*")) if (run / "checkpoints").exists() else []
        if ckpts:
            for f in ("generator_ema.safetensors", "generator.safetensors", "state.json", "discriminator.safetensors"):
                size = sum(p.stat().st_size for p in keep.iterdir())
                if (ckpts[-1] / f).exists() and size + (ckpts[-1] / f).stat().st_size < 15.5 * 2**20:
                    shutil.copy(ckpts[-1] / f, keep / f)
        with tarfile.open(Path(args.out) / f"zoo-{name}.tar", "w") as tar:
            tar.add(keep, arcname=f"{name}-mnist")
        log(name, out[name])
    return out


def main():
    global DEVICE, DRY, RESULTS, WORK
    p = argparse.ArgumentParser()
    p.add_argument("--data-dir", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--sections", default="smoke,throughput,quality,pretrained")
    p.add_argument("--pretrain-timeout", type=int, default=100)
    p.add_argument("--zoo", default="dcgan,cgan,wgan-gp,vanilla", help="runs of the pretrained section")
    p.add_argument("--work", default=WORK, help="scratch folder for the runs")
    p.add_argument("--recipes", help=f"comma-separated subset of the quality sweep: {','.join(RECIPES)}")
    p.add_argument("--dry", action="store_true", help="tiny CPU run of every section")
    args = p.parse_args()
    if args.dry:
        DEVICE, DRY = "cpu", True
    WORK = args.work
    Path(WORK).mkdir(parents=True, exist_ok=True)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    results = RESULTS = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "device": torch.cuda.get_device_name(0) if DEVICE == "cuda" else "cpu (dry run)",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
    }
    try:
        import torchvision

        results["torchvision"] = torchvision.__version__
    except Exception:
        pass
    log(json.dumps(results))
    fns = {"smoke": smoke, "throughput": throughput, "quality": quality, "pretrained": pretrained}
    for name in args.sections.split(","):
        section(name, lambda name=name: fns[name](args), results)
        (Path(args.out) / "gpu_bench.json").write_text(json.dumps(results, indent=2, default=str))
    log(json.dumps({k: v for k, v in results.items() if k != "pretrained"}, indent=1, default=str)[-6000:])


if __name__ == "__main__":
    main()
