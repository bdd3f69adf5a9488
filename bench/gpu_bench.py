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
3. ``quality``: the default ``ganzoo train dcgan`` recipe, snapshots of the
   EMA generator at fixed training-time marks, for FID on the CPU afterwards
   (bench/eval_snapshots.py).
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
        tr = Trainer(TrainConfig(model=model, dataset="mnist", data_dir=args.data_dir, steps=4 if DRY else 40, out=f"/tmp/smoke-{model}",
                                 device=DEVICE, quiet=True, log_every=20, sample_every=40, checkpoint_every=40))
        tr.fit()
        rows = [json.loads(r) for r in (tr.run_dir / "metrics.jsonl").read_text().splitlines()]
        out[model] = {"graph": tr._graph is not None, "last": rows[-1], "seconds": round(time.time() - t0, 2)}
        log(model, out[model])
    return out


def ganzoo_rate(args, batch_size, seconds=3.0, cuda_graph=True, model="dcgan"):
    from ganzoo.engine import TrainConfig, Trainer

    out_dir = f"/tmp/tp-{model}-{batch_size}-{int(cuda_graph)}"
    shutil.rmtree(out_dir, ignore_errors=True)
    tr = Trainer(TrainConfig(model=model, dataset="mnist", data_dir=args.data_dir, batch_size=batch_size, steps=10**9,
                             device=DEVICE, cuda_graph=cuda_graph, quiet=True, out=out_dir))
    step = tr._make_step()

    def run(n):
        for _ in range(n):
            keys, vec = step(*tr._batch(tr._next_indices()))
        return vec

    run(2 if DRY else 30)  # warm-up, capture included
    sync()
    t = time.perf_counter()
    run(2 if DRY else 20)
    sync()
    per_step = (time.perf_counter() - t) / (2 if DRY else 20)
    n = 2 if DRY else max(50, int(seconds / per_step))
    sync()
    t = time.perf_counter()
    vec = run(n)
    sync()
    dt = time.perf_counter() - t
    finite = bool(torch.isfinite(vec).all())
    rate = n * batch_size * tr.n_critic / dt
    return {"images_per_s": round(rate, 1), "steps": n, "seconds": round(dt, 3), "graph": tr._graph is not None,
            "finite": finite}


def baseline_rate(args, batch_size):
    js = f"/tmp/baseline-{batch_size}.json"
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
    return res


def quality(args):
    """Default recipe; EMA snapshots at training-time marks (seconds of fit(), capture included)."""
    from safetensors.torch import save_file

    from ganzoo.checkpoint import state_dict_tensors
    from ganzoo.engine import TrainConfig, Trainer

    recipes = {
        "default": {},  # dcgan's MNIST recipe: batch 64 since 2026-11-26 (the paper's 128 before)
        "paper-bs128": {"batch_size": 128},
        "bs512-lr1e-3": {"batch_size": 512, "lr_g": 1e-3, "lr_d": 1e-3},
        "bs1024-lr1e-3": {"batch_size": 1024, "lr_g": 1e-3, "lr_d": 1e-3},
    }
    marks = (0.5, 1.0) if DRY else (2.5, 5.0, 10.0, 20.0)
    snap_dir = Path("/tmp/snapshots")
    shutil.rmtree(snap_dir, ignore_errors=True)
    snap_dir.mkdir()
    out = {}
    for name, over in recipes.items():
        tr = Trainer(TrainConfig(model="dcgan", dataset="mnist", data_dir=args.data_dir, steps=10**9, device=DEVICE,
                                 quiet=True, out=f"/tmp/quality-{name}", **over))
        step = tr._make_step()
        sync()
        t0 = time.perf_counter()
        rows = []
        for mark in marks:
            while time.perf_counter() - t0 < mark:
                for _ in range(25):
                    step(*tr._batch(tr._next_indices()))
                    tr.step += 1
                sync()
            elapsed = time.perf_counter() - t0
            t_save = time.perf_counter()
            f = snap_dir / f"{name}-t{mark:g}.safetensors"
            save_file(state_dict_tensors(tr.G_ema), str(f), metadata={"step": str(tr.step), "seconds": f"{elapsed:.3f}"})
            rows.append({"mark_s": mark, "seconds": round(elapsed, 3), "step": tr.step,
                         "images": tr.step * tr.config.batch_size, "epochs": round(tr.step / tr.steps_per_epoch, 2)})
            log(name, rows[-1])
            t0 += time.perf_counter() - t_save  # saving is not training time
        out[name] = {"config": {k: v for k, v in tr.config.to_json().items() if k in ("batch_size", "lr_g", "lr_d", "betas", "ema_decay")},
                     "snapshots": rows}
    for name in recipes:  # one tar per recipe: files coming back are capped at 16 MiB each
        with tarfile.open(Path(args.out) / f"snapshots-{name}.tar", "w") as tar:
            for f in sorted(snap_dir.glob(f"{name}-t*.safetensors")):
                tar.add(f, arcname=f"snapshots/{f.name}")
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
        run = Path(f"/tmp/zoo/{name}-mnist")
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
        keep = Path(f"/tmp/zoo-keep/{name}-mnist")
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
    p = argparse.ArgumentParser()
    p.add_argument("--data-dir", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--sections", default="smoke,throughput,quality,pretrained")
    p.add_argument("--pretrain-timeout", type=int, default=100)
    p.add_argument("--zoo", default="dcgan,cgan,wgan-gp,vanilla", help="runs of the pretrained section")
    p.add_argument("--dry", action="store_true", help="tiny CPU run of every section")
    args = p.parse_args()
    global DEVICE, DRY
    if args.dry:
        DEVICE, DRY = "cpu", True
    Path(args.out).mkdir(parents=True, exist_ok=True)
    torch.backends.cudnn.benchmark = True
    results = {
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
