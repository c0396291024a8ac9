"""The paper's ablations as one script: Table 2 (full / w/o L_tmp / w/o BSN), Table 3 (joint DTSS /
swap-only / reenact-only) and Fig. 7 (E_tmp vs σ).

Usage:
    python bench/ablation.py --quick                      # CI: tiny sizes, 1 seed, a couple of minutes
    python bench/ablation.py --work runs/ablation         # the full run → docs/results/ablation.json
    python bench/ablation.py --table docs/results/ablation.json [--write-docs]   # its Markdown table
    python bench/ablation.py --add-detail runs/ablation --out docs/results/ablation.json  # + the detail ratio

Protocol. One synthetic dataset (``tfv synth``; images and clips) is written; its last ``--eval-clips``
clips are the held-out split (``data.eval_clips``): never drawn for training, and the only clips the
metrics are computed on. Every arm trains the same number of steps from ``configs/cpu-small.toml``'s
settings (at ``--size``), once per seed (seed of the initialisation and of the sample stream), then is
evaluated on the held-out clips (:meth:`tfvsdk.train.Trainer.evaluate_clips`):

* self-driving reenactment: ``e_tmp`` (E_tmp, 0–255 RMS warping error with the 3D flow), ``ssim``,
  ``mae`` (the photometric error: mean |Y − X| inside the face mask, 0–255) and ``detail`` (the output's
  gradient energy over the ground truth's inside the face mask, :func:`tfvsdk.metrics.detail_ratio`; not a
  metric of the paper: < 1 is a blurred face, and a blur lowers E_tmp);
* face swapping (Table 3): ``e_tmp_swap``, each held-out clip driving the face of one image.

The arms overlap, and runs are reused rather than repeated: Table 3's swap-only and reenact-only are
Fig. 7's σ = 1 and σ = 0 (σ = 0 with ``still_clips``: "image datasets are regarded as single-frame
videos"), and the full model is Fig. 7's σ = 0.5, Table 2's and Table 3's "TFVGAN" row. Nothing is tuned
on the held-out clips: the settings are fixed before the run.

The dataset is synthesised with ``--data-seed`` (2 by default: the recipe's variants were compared on
seed 0's data and its final run was measured on seed 1's, so the ablation's held-out clips are new).
With ``--work``, every finished run leaves ``runs/<arm>-s<seed>/result.json`` (written atomically) and a
later call with the same folder, settings and code (:func:`code_version`) reuses it; a run in progress
checkpoints every ``CHECKPOINT_EVERY`` steps and a later call resumes it there, so an interrupted ablation
loses at most that many steps per run.

``--add-detail WORK`` adds ``detail`` to a result file written by code that did not measure it: every run
of the file is restored from ``WORK/runs/<arm>-s<seed>/checkpoints/last.pt`` and evaluated again on the
held-out clips (its E_tmp must come out as stored, else the script stops), and the classical blender too.

Each metric is reported per arm as the mean over seeds with a 95 % Student-t interval
(mean ± t₀.₉₇₅,ₙ₋₁ · s/√n; no interval for one seed), and the per-seed values.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import statistics
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "configs" / "cpu-small.toml"
DOCS = ROOT / "docs" / "training.md"
TABLE_START, TABLE_END = "<!-- ablation-table:start -->", "<!-- ablation-table:end -->"

ARMS: dict[str, dict] = {
    "full": {},
    "no_tmp": {"loss": {"use_temporal": False}},
    "adain": {"components": {"blender_config": {"norm": "adain"}}},
    "sigma_0": {"data": {"sigma": 0.0, "still_clips": True}},
    "sigma_0.25": {"data": {"sigma": 0.25}},
    "sigma_0.75": {"data": {"sigma": 0.75}},
    "sigma_1": {"data": {"sigma": 1.0}},
}
"""Each arm's changes to the recipe (a table value such as ``blender_config`` is merged into the recipe's, so
``norm = "adain"`` keeps the recipe's generator otherwise). ``full`` is σ = 0.5 (the recipe's and the paper's)."""

STUDIES = {
    "table2": [("Full model", "full"), ("w/o L_tmp", "no_tmp"), ("w/o BSN (AdaIN)", "adain")],
    "table3": [("joint DTSS (TFVGAN)", "full"), ("swap only (σ = 1)", "sigma_1"), ("reenact only (σ = 0)", "sigma_0")],
    "fig7": [("σ = 0", "sigma_0"), ("σ = 0.25", "sigma_0.25"), ("σ = 0.5", "full"), ("σ = 0.75", "sigma_0.75"), ("σ = 1", "sigma_1")],
}
"""Rows of each study (label, arm)."""

PAPER = {
    ("table2", "full"): "E_tmp 3.65",
    ("table2", "no_tmp"): "E_tmp 4.69",
    ("table2", "adain"): "E_tmp – (FID 36.9 vs 24.4)",
    ("table3", "full"): "E_tmp swap 3.54, reenact 3.65",
    ("table3", "sigma_1"): "E_tmp swap 7.98",
    ("table3", "sigma_0"): "E_tmp reenact 5.32",
}
"""The paper's figures for the rows (VoxCeleb2/FFHQ at 256²; Fig. 7 gives a plot, no numbers: E_tmp rises with σ)."""

CHECKPOINT_EVERY = 250
"""Steps between a run's checkpoints (its last one is kept): what an interruption can cost each run."""

T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def summary(values: list[float]) -> dict:
    """Mean, 95 % Student-t interval and the values (the interval is [mean, mean] for one value)."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return {"mean": mean, "ci95": [mean, mean], "per_seed": values}
    half = T975.get(len(values) - 1, 1.96) * statistics.stdev(values) / math.sqrt(len(values))
    return {"mean": mean, "ci95": [mean - half, mean + half], "per_seed": values}


def recipe() -> dict:
    config = tomllib.loads(RECIPE.read_text())
    config.pop("run", None)
    return config


def code_version() -> str:
    """SHA-256 (first 16 hex digits) of the trainer's source: every ``*.py`` under ``tfvsdk/`` and ``plugins/``,
    by relative path. Part of each job, so a finished run of older code is not reused."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(p for folder in ("tfvsdk", "plugins") for p in (ROOT / folder).rglob("*.py")):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def job_config(job: dict, out: str) -> dict:
    """The trainer configuration of ``job``: the recipe with the arm's changes, the job's data and ``out``."""
    config = json.loads(json.dumps(job["recipe"]))
    for table, changes in ARMS[job["arm"]].items():
        section = config.setdefault(table, {})
        for key, value in changes.items():  # a table value (blender_config) is merged into the recipe's
            section[key] = {**section.get(key, {}), **value} if isinstance(value, dict) else value
    config.setdefault("data", {}).update({"root": job["data"], "eval_clips": job["eval_clips"]})
    config["run"] = {"out": out, "max_steps": job["steps"], "every": min(CHECKPOINT_EVERY, job["steps"]),
                     "keep": 1, "log_every": 10, "grad_every": 0, "seed": job["seed"]}
    return config


def run_one(job: dict) -> dict:
    """Train one (arm, seed) and evaluate it on the held-out clips (runs in a worker process).

    A ``result.json`` in the run's folder from the same job (arm, seed, steps, data, the recipe's settings and
    the code's version) is returned as it is (``"reused": True``); without one, a checkpoint there is resumed
    when the run's ``job.json`` shows it was made by the same job (else the run starts again). The result's
    ``seconds`` are this call's: a resumed run counts only its last part.
    """
    done = Path(job["out"]) / "result.json"
    if done.exists():
        previous = json.loads(done.read_text())
        if previous.get("job") == job:
            return {**previous, "reused": True}
    import torch

    torch.set_num_threads(1)
    from tfvsdk.train import Trainer, config_from_dict

    started_job = Path(job["out"]) / "job.json"
    same_job = started_job.exists() and json.loads(started_job.read_text()) == job
    config = job_config(job, job["out"])
    config["run"]["resume"] = same_job
    started = time.perf_counter()
    trainer = Trainer(config_from_dict(config, f"arm {job['arm']}"))
    from tfvsdk import publish

    started_job.parent.mkdir(parents=True, exist_ok=True)
    publish.write_bytes(started_job, (json.dumps(job, indent=1) + "\n").encode())
    trainer.fit(progress=False)
    reenact = trainer.evaluate_clips()
    images = len(trainer.images) if trainer.images is not None else 0
    swap = trainer.evaluate_clips(identities=[(7 * k) % images for k in range(len(trainer.eval_clips))]) if images else {}
    trainer.close()
    result = {"arm": job["arm"], "seed": job["seed"], "seconds": time.perf_counter() - started,
              "e_tmp": reenact["eval/e_tmp"], "ssim": reenact["eval/ssim"], "mae": reenact["eval/face_mae"],
              "detail": reenact["eval/detail"], "e_tmp_truth": reenact["eval/e_tmp_truth"],
              "e_tmp_swap": swap.get("eval/e_tmp", float("nan"))}

    publish.write_bytes(done, (json.dumps({**result, "job": job}, indent=1) + "\n").encode())
    return result


def run_detail(folder: str) -> tuple[str, float]:
    """The detail ratio of the finished run in ``folder`` (see ``--add-detail``), checked by its E_tmp."""
    import torch

    torch.set_num_threads(1)
    from tfvsdk.train import Trainer, config_from_dict, load_checkpoint

    stored = json.loads((Path(folder) / "result.json").read_text())
    job = stored["job"]
    with tempfile.TemporaryDirectory() as out:
        config = job_config(job, out)
        config["run"]["resume"] = False
        trainer = Trainer(config_from_dict(config, f"arm {job['arm']}"))
        trainer.load_state_dict(load_checkpoint(Path(folder) / "checkpoints" / "last.pt"))
        if trainer.step != job["steps"]:
            raise SystemExit(f"{folder}: its last checkpoint is step {trainer.step}, not the run's {job['steps']}")
        reenact = trainer.evaluate_clips()
        trainer.close()
    if abs(reenact["eval/e_tmp"] - stored["e_tmp"]) > 1e-3:
        raise SystemExit(f"{folder}: evaluated again, E_tmp is {reenact['eval/e_tmp']:.4f}, not the stored {stored['e_tmp']:.4f}")
    return folder, reenact["eval/detail"]


def add_detail(work: Path, path: Path, jobs: int) -> dict:
    """``path``'s result with ``detail`` for every arm (from the runs under ``work``) and the classical blender."""
    result = json.loads(path.read_text())
    folders = sorted(str(work / "runs" / f"{arm['arm']}-s{seed}") for arm in result["arms"] for seed in arm["seeds"])
    context = multiprocessing.get_context("spawn")
    with context.Pool(jobs, maxtasksperchild=1) as pool:
        classical = pool.apply_async(baseline, (str(work / "data"), result["settings"]["eval_clips"]))
        details = dict(pool.imap(run_detail, folders))
        result["classical"]["detail"] = classical.get()["detail"]
    for arm in result["arms"]:
        arm["detail"] = summary([details[str(work / "runs" / f"{arm['arm']}-s{seed}")] for seed in arm["seeds"]])
    return result


def baseline(data: str, eval_clips: int) -> dict:
    """The classical blender on the same held-out clips (no training), with ``tone="target"``, the default
    when docs/results/ablation.json was measured (today's default scores alike: docs/training.md)."""
    import torch

    torch.set_num_threads(1)
    import tfvsdk
    from tfvsdk.train import Trainer, config_from_dict

    config = recipe()
    config.setdefault("data", {}).update({"root": data, "eval_clips": eval_clips})
    config["run"] = {"out": tempfile.mkdtemp(), "resume": False}
    trainer = Trainer(config_from_dict(config))
    result = trainer.evaluate_clips(blender=tfvsdk.create("blender", "classical", tone="target"))
    return {"e_tmp": result["eval/e_tmp"], "ssim": result["eval/ssim"], "mae": result["eval/face_mae"],
            "detail": result["eval/detail"], "e_tmp_truth": result["eval/e_tmp_truth"]}


def fmt(stat: dict | None) -> str:
    if stat is None or math.isnan(stat["mean"]):
        return "–"
    lo, hi = stat["ci95"]
    return f"{stat['mean']:.2f}" if lo == hi else f"{stat['mean']:.2f} [{lo:.2f}, {hi:.2f}]"


def markdown(result: dict) -> str:
    """The Markdown tables of a result (every number read from it)."""
    arms = {a["arm"]: a for a in result["arms"]}
    meta, classical = result["settings"], result["classical"]
    detail = all("detail" in a for a in result["arms"])
    lines = [
        f"{meta['size']}² synthetic data, {meta['steps']} steps per run, {meta['seeds']} seed(s) per arm, "
        f"{meta['eval_clips']} held-out clips; mean [95 % interval] over seeds. Classical blender on the same "
        f"clips: E_tmp {classical['e_tmp']:.2f}, SSIM {classical['ssim']:.3f}, MAE {classical['mae']:.2f}"
        + (f", detail {classical['detail']:.2f}" if "detail" in classical else "")
        + f"; the ground truth's E_tmp {classical['e_tmp_truth']:.2f}.",
        "",
    ]
    titles = {"table2": "Table 2 (self-driving reenactment)", "table3": "Table 3 (joint vs separate training)", "fig7": "Fig. 7 (E_tmp vs σ)"}
    header = "| arm | E_tmp ↓ | E_tmp swap ↓ | SSIM ↑ | face MAE ↓ |" + (" detail (1 = truth) |" if detail else "") + " paper |"
    for study, rows in STUDIES.items():
        lines += [f"**{titles[study]}**", "", header, "|---" * header.count(" |") + "|"]
        for label, arm in rows:
            a = arms.get(arm)
            if a is None:
                continue
            lines.append(
                f"| {label} | {fmt(a['e_tmp'])} | {fmt(a.get('e_tmp_swap'))} | {fmt(a['ssim'])} | {fmt(a['mae'])} | "
                + (f"{fmt(a['detail'])} | " if detail else "") + f"{PAPER.get((study, arm), '')} |"
            )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write_table(result: dict, docs: Path) -> None:
    text = docs.read_text()
    if TABLE_START not in text or TABLE_END not in text:
        raise SystemExit(f"{docs}: no {TABLE_START} … {TABLE_END} block to replace")
    head, rest = text.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    from tfvsdk import publish

    publish.write_bytes(docs, f"{head}{TABLE_START}\n{markdown(result)}{TABLE_END}{tail}".encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny: 24², 8 steps, 1 seed, 3 arms (CI)")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--steps", type=int, help="training steps per run (default: the recipe's run.max_steps)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    parser.add_argument("--images", type=int, default=128)
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--eval-clips", type=int, default=4)
    parser.add_argument("--data-seed", type=int, default=2, help="seed of the synthetic dataset (see Protocol)")
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel, one thread each")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "results" / "ablation.json")
    parser.add_argument("--work", type=Path, help="folder for the data and runs, reused by a later call (default: a temporary one)")
    parser.add_argument("--write-docs", action="store_true", help="also replace the table block in docs/training.md")
    parser.add_argument("--table", type=Path, help="print the Markdown table of this result file and exit")
    parser.add_argument("--add-detail", type=Path, metavar="WORK",
                        help="add the detail ratio to the result file --out from the runs under WORK, and exit")
    args = parser.parse_args()
    if args.add_detail:
        result = add_detail(args.add_detail, args.out, args.jobs)
        from tfvsdk import publish

        publish.write_bytes(args.out, (json.dumps(result, indent=1) + "\n").encode())
        print(markdown(result))
        return
    if args.table:
        result = json.loads(args.table.read_text())
        if args.write_docs:
            write_table(result, DOCS)
        print(markdown(result))
        return
    if args.quick:
        args.size, args.steps, args.seeds, args.images, args.clips, args.frames, args.eval_clips = 24, 8, 1, 12, 5, 4, 2
        args.arms = ["full", "no_tmp", "sigma_1"]
        args.out = args.out if "--out" in sys.argv else Path(tempfile.mkdtemp()) / "ablation-quick.json"

    if args.steps is None:
        args.steps = tomllib.loads(RECIPE.read_text())["run"]["max_steps"]
    from tfvsdk.data.synth import SynthConfig, synthesize

    work = args.work or Path(tempfile.mkdtemp(prefix="ablation-"))
    data = work / "data"
    if not (data / "manifest.json").exists():
        synthesize(data, SynthConfig(images=args.images, videos=args.clips, frames=args.frames, size=args.size, seed=args.data_seed))
    jobs = [
        {"arm": arm, "seed": seed, "steps": args.steps, "size": args.size, "data": str(data),
         "eval_clips": args.eval_clips, "data_seed": args.data_seed, "recipe": recipe(), "code": code_version(),
         "out": str(work / "runs" / f"{arm}-s{seed}")}
        for seed in range(args.seeds) for arm in args.arms
    ]
    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    with context.Pool(args.jobs, maxtasksperchild=1) as pool:
        classical = pool.apply_async(baseline, (str(data), args.eval_clips))
        runs = []
        for run in pool.imap_unordered(run_one, jobs):
            runs.append(run)
            print(f"{run['arm']:<11} seed {run['seed']}  E_tmp {run['e_tmp']:6.2f}  swap {run['e_tmp_swap']:6.2f}  "
                  f"SSIM {run['ssim']:.3f}  MAE {run['mae']:6.2f}  ({run['seconds']:.0f} s"
                  f"{', reused' if run.get('reused') else ''})", flush=True)
        classical = classical.get()
    arms = []
    for arm in args.arms:
        mine = sorted((r for r in runs if r["arm"] == arm), key=lambda r: r["seed"])
        arms.append({"arm": arm, "seeds": [r["seed"] for r in mine], "steps": args.steps,
                     **{key: summary([r[key] for r in mine]) for key in ("e_tmp", "ssim", "mae", "detail", "e_tmp_swap")
                        if all(key in r for r in mine)}})
    result = {
        "settings": {"size": args.size, "steps": args.steps, "seeds": args.seeds, "images": args.images,
                     "clips": args.clips, "frames": args.frames, "eval_clips": args.eval_clips, "data_seed": args.data_seed,
                     "recipe": str(RECIPE.relative_to(ROOT)), "code": jobs[0]["code"], "threads_per_run": 1, "jobs": args.jobs,
                     "wall_seconds": round(time.perf_counter() - started, 1)},
        "classical": classical,
        "studies": {study: [arm for _, arm in rows] for study, rows in STUDIES.items()},
        "arms": arms,
    }
    from tfvsdk import publish

    args.out.parent.mkdir(parents=True, exist_ok=True)
    publish.write_bytes(args.out, (json.dumps(result, indent=1) + "\n").encode())
    print(markdown(result))
    print(f"wrote {args.out} in {result['settings']['wall_seconds']:.0f} s")
    if args.write_docs:
        write_table(result, DOCS)


if __name__ == "__main__":
    main()
