"""Benchmark: landmark fitting speed and accuracy of the ``landmarks`` reconstructor, beside eos.

For each model (the built-in one, and the SFM when its file exists) a batch of frames with known faces
(α_id ~ N(0, I), α_exp = |N(0, 0.5²)| — non-negative, as eos fits blendshape weights ≥ 0 —, yaw ±30°,
pitch ±15°, roll ±10°, a face ~160 px wide) is turned into 68
landmarks with 0.5 px noise, jaw points on the projected outline (the test helpers' synthesis). The batch is
fitted by the reconstructor in one call, and — where ``eos-py`` is importable — frame by frame by eos'
``fit_shape_and_pose`` (5 iterations, contour fitting, its default regularisation) on the same landmarks.

Reported per method: time per frame, fits per second, RMS reprojection error of the model's fixed landmark
vertices (to the noisy input and to the noise-free truth), and the mean rotation error to the truth.

Then, when 3DDFA_V2's weights are in the model cache (``tfv models fetch 3ddfa-v2``), its regressor on
photo frames (the astronaut test photo turned in the image plane −25° … 25°, every other frame mirrored;
landmarks from dlib, not timed): ms per frame of the regressor (crop + MobileNet-0.5, one batch) and of
the landmark fitter on the built-in model, at 1 and 2 threads interleaved, and how far the regressor's
yaw, pitch and roll are from the fitter's.

Usage:
    python bench/fit.py [--frames 64] [--threads 1] [--repeats 3] [--sfm PATH] [--photo-frames 32]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

import tfvsdk
from tfvsdk.metrics import rotation_angle
from tfvsdk.morphable import vertices

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "fitting"))  # one synthesis of test landmarks for tests and bench
from fitting_helpers import random_fits, synthetic_landmarks  # noqa: E402

PHOTO = ROOT / "tests" / "assets" / "astronaut_face.png"
DEFAULT_SFM = ROOT.parent / "shared" / "models" / "sfm_3448" / "sfm_3448.npz"
JAW = set(range(17)) - {8}


def metrics(model: tfvsdk.MorphableModel, projected: np.ndarray, rotation: torch.Tensor, noisy: np.ndarray, clean: np.ndarray, truth: tfvsdk.FaceFit) -> dict:
    """RMS errors (px) of the projected fixed landmark vertices and mean rotation error (degrees)."""
    idx = model.landmark_indices.numpy()
    has = idx >= 0
    has[list(JAW)] = False
    return {
        "rmse_input": float(np.sqrt(((projected[:, has] - noisy[:, has]) ** 2).sum(-1).mean())),
        "rmse_truth": float(np.sqrt(((projected[:, has] - clean[:, has]) ** 2).sum(-1).mean())),
        "rotation": float(rotation_angle(rotation, truth.camera.rotation).mean()),
    }


def run_ours(model, noisy, truth, repeats):
    rec = tfvsdk.create("reconstructor", "landmarks", model=model, landmark_noise=0.01)
    detection = tfvsdk.Detection(torch.from_numpy(noisy).float(), torch.ones(len(noisy), dtype=torch.bool), truth.image_size)
    rec.fit_landmarks(tfvsdk.Detection(detection.landmarks[:4], detection.found[:4], truth.image_size))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fit = rec.fit_landmarks(detection)
        times.append(time.perf_counter() - start)
    with torch.no_grad():
        screen = vertices(model, fit)[..., :2]
    idx = model.landmark_indices.clamp(min=0)
    return min(times), screen[:, idx].double().numpy(), fit.camera.rotation


class EosModel:
    """The same model in eos' terms, built from the SDK's arrays (files written to a temporary folder)."""

    def __init__(self, eos, model: tfvsdk.MorphableModel, folder: Path) -> None:
        self.eos = eos
        cols = model.id_basis.double().numpy()
        eigen = (cols**2).sum(0)
        tri = model.triangles.numpy()
        shape = eos.morphablemodel.PcaModel(
            model.mean.numpy().reshape(-1, 1).astype(np.float32),
            (cols / np.sqrt(eigen)).astype(np.float32),
            eigen.reshape(-1, 1).astype(np.float32),
            tri.tolist(),
        )
        blend = [
            eos.morphablemodel.Blendshape(name, model.exp_basis[:, k].numpy().reshape(-1, 1).astype(np.float32))
            for k, name in enumerate(model.exp_names)
        ]
        self.model = eos.morphablemodel.MorphableModel(shape, blend, eos.morphablemodel.PcaModel())
        lm = model.landmark_indices.numpy()
        self.contours = model.contour_right is not None and model.contour_left is not None
        skip = JAW if self.contours else set()
        lines = ["[landmark_mappings]"] + [f"{i + 1} = {int(v)}" for i, v in enumerate(lm) if v >= 0 and i not in skip]
        lines += ["[contour_landmarks]", f"right = {list(range(1, 9))}", f"left = {list(range(10, 18))}"]
        (folder / "mapping.txt").write_text("\n".join(lines) + "\n")
        self.mapper = eos.core.LandmarkMapper(str(folder / "mapping.txt"))
        if self.contours:
            contour = {"model_contour": {"right_contour": model.contour_right.tolist(), "left_contour": model.contour_left.tolist()}}
            (folder / "contour.json").write_text(json.dumps(contour))
            self.model_contour = eos.fitting.ModelContour.load(str(folder / "contour.json"))
            self.contour_landmarks = eos.fitting.ContourLandmarks.load(str(folder / "mapping.txt"))
            edges = defaultdict(list)
            for f, (a, b, c) in enumerate(tri):
                for u, v in ((a, b), (b, c), (c, a)):
                    edges[(min(u, v), max(u, v))].append(f + 1)
            faces = [fs[:2] if len(fs) > 1 else [0, fs[0]] for fs in edges.values()]
            self.topology = eos.morphablemodel.EdgeTopology(faces, [[a + 1, b + 1] for a, b in edges])

    def fit(self, points: np.ndarray, size: tuple[int, int]):
        """Fit one frame's (68, 2) landmarks (SDK pixels); returns (68, 2) projected landmark vertices in SDK
        pixels (all vertices, indexed later) and the rotation."""
        eos = self.eos
        h, w = size
        landmarks = [eos.core.Landmark(str(j + 1), (points[j] - 0.5).astype(np.float32)) for j in range(68) if np.isfinite(points[j]).all()]
        if self.contours:
            mesh, pose, _, _ = eos.fitting.fit_shape_and_pose(
                self.model, landmarks, self.mapper, w, h, self.topology, self.contour_landmarks, self.model_contour
            )
        else:
            mesh, pose, _, _ = eos.fitting.fit_shape_and_pose(self.model, landmarks, self.mapper, w, h)
        camera = np.asarray(eos.fitting.get_3x4_affine_camera_matrix(pose, w, h))
        vertices = np.asarray(mesh.vertices)
        projected = (np.c_[vertices, np.ones(len(vertices))] @ camera.T)[:, :2] + 0.5
        return projected, np.asarray(pose.get_modelview())[:3, :3]


def run_eos(eos, model, noisy, truth):
    with tempfile.TemporaryDirectory() as folder:
        em = EosModel(eos, model, Path(folder))
        em.fit(noisy[0], truth.image_size)
        idx = model.landmark_indices.clamp(min=0).numpy()
        start = time.perf_counter()
        results = [em.fit(points, truth.image_size) for points in noisy]
        elapsed = time.perf_counter() - start
    projected = np.stack([p[idx] for p, _ in results])
    rotation = torch.from_numpy(np.stack([r for _, r in results]))
    return elapsed, projected, rotation


def models(sfm: Path) -> list[tuple[str, tfvsdk.MorphableModel]]:
    out = []
    try:
        out.append(("built-in", tfvsdk.morphable.load_builtin()))
    except ModuleNotFoundError as exc:
        print(f"(built-in model unavailable: {exc})")
    if sfm.is_file():
        out.append(("SFM 3448", tfvsdk.morphable.load_npz(sfm)))
    else:
        print(f"(SFM not found at {sfm})")
    return out


def photo_frames(count: int) -> torch.Tensor:
    """(count, 3, 256, 256) frames of the astronaut photo turned −25° … 25° in the image plane, odd ones mirrored."""
    import imageio.v3 as iio

    photo = torch.from_numpy(iio.imread(PHOTO)).permute(2, 0, 1)[None].float() / 255
    frames = []
    for k, degrees in enumerate(np.linspace(-25, 25, count)):
        a = math.radians(float(degrees))
        theta = torch.tensor([[[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0]]])
        grid = torch.nn.functional.affine_grid(theta, list(photo.shape), align_corners=False)
        source = photo.flip(-1) if k % 2 else photo
        frames.append(torch.nn.functional.grid_sample(source, grid, padding_mode="border", align_corners=False))
    return torch.cat(frames)


def run_regressor(count: int, threads: list[int], repeats: int) -> None:
    """Time 3DDFA_V2's regressor against the landmark fitter on photo frames and print their pose agreement."""
    from tfvsdk import models

    if models.find("3ddfa-v2") is None:
        print(f"\n(3DDFA_V2's weights are not in the model cache {models.home()}: tfv models fetch 3ddfa-v2)")
        return
    from tfvsdk.camera import euler_from_rotation
    from tfvsdk_3ddfa.regressor import PoseRegressor

    frames = photo_frames(count)
    detection = tfvsdk.create("detector", "dlib").detect(frames)
    keep = detection.found
    frames = frames[keep]
    detection = tfvsdk.Detection(detection.landmarks[keep], keep[keep], detection.image_size)
    regressor = PoseRegressor(batch_size=count)
    fitter = tfvsdk.create("reconstructor", "landmarks", model=tfvsdk.morphable.load_builtin())
    regressor.rotations(frames, detection)
    fitter.fit_landmarks(detection)
    times: dict[tuple[int, str], list[float]] = defaultdict(list)
    for repeat in range(repeats):
        for t in threads if repeat % 2 == 0 else threads[::-1]:
            torch.set_num_threads(t)
            for name, run in (("regressor", lambda: regressor.rotations(frames, detection)), ("fitter", lambda: fitter.fit_landmarks(detection))):
                start = time.perf_counter()
                result = run()
                times[(t, name)].append((time.perf_counter() - start) / len(frames) * 1e3)
                if name == "regressor":
                    regressed = result
                else:
                    fitted = result.camera.rotation.double()
    difference = (euler_from_rotation(regressed) - euler_from_rotation(fitted)).rad2deg()
    yaw, pitch, roll = difference.unbind(-1)
    print(f"\n3DDFA_V2 regressor (mb05) on {len(frames)} photo frames (dlib landmarks; median of {repeats})\n")
    print("| threads | regressor ms / frame | landmark fitter ms / frame |")
    print("|---:|---:|---:|")
    for t in threads:
        print(f"| {t} | {np.median(times[(t, 'regressor')]):.2f} | {np.median(times[(t, 'fitter')]):.2f} |")
    print(
        f"\npose, regressor − fitter (built-in model): |yaw| mean {yaw.abs().mean():.2f}° max {yaw.abs().max():.2f}°; "
        f"|roll| mean {roll.abs().mean():.2f}° max {roll.abs().max():.2f}°; pitch offset {pitch.mean():.2f}° "
        f"(± {pitch.std():.2f}°, the models' frontal directions differ)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sfm", type=Path, default=DEFAULT_SFM)
    parser.add_argument("--photo-frames", type=int, default=32, help="frames for the 3DDFA_V2 regressor (0 = skip)")
    parser.add_argument("--photo-threads", type=int, nargs="+", default=[1, 2], help="thread counts, interleaved")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    try:
        import eos
    except ImportError:
        eos = None
        print("(eos-py not importable: pip install eos-py to compare)")

    rows = []
    for name, model in models(args.sfm):
        truth = random_fits(model, args.frames, seed=7, exp_scale=0.5, max_yaw=30)
        truth = tfvsdk.FaceFit(truth.alpha_id, truth.alpha_exp.abs(), truth.camera, truth.image_size)
        noisy = synthetic_landmarks(model, truth, noise=0.5, seed=1).numpy()
        clean = synthetic_landmarks(model, truth, noise=0.0).numpy()
        seconds, projected, rotation = run_ours(model, noisy, truth, args.repeats)
        rows.append((name, "tfvsdk landmarks (batch)", seconds, metrics(model, projected, rotation, noisy, clean, truth)))
        if eos is not None:
            seconds, projected, rotation = run_eos(eos, model, noisy, truth)
            rows.append((name, "eos fit_shape_and_pose", seconds, metrics(model, projected, rotation, noisy, clean, truth)))

    n = args.frames
    print(f"\n{n} frames of 68 landmarks (0.5 px noise), {args.threads} torch thread(s)\n")
    print("| model | method | ms / frame | fits / s | RMSE to input (px) | RMSE to truth (px) | rotation error (°) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, method, seconds, m in rows:
        print(
            f"| {name} | {method} | {1e3 * seconds / n:.2f} | {n / seconds:.0f} | {m['rmse_input']:.2f} | "
            f"{m['rmse_truth']:.2f} | {m['rotation']:.2f} |"
        )
    by_model = defaultdict(dict)
    for name, method, seconds, m in rows:
        by_model[name][method.split()[0]] = (seconds, m)
    for name, entries in by_model.items():
        if "eos" in entries:
            (ts, ms), (te, me) = entries["tfvsdk"], entries["eos"]
            print(
                f"\n{name}: tfvsdk is {te / ts:.1f}× faster than eos per frame; RMSE to truth "
                f"{ms['rmse_truth']:.2f} vs {me['rmse_truth']:.2f} px; rotation error {ms['rotation']:.2f}° vs {me['rotation']:.2f}°"
            )
    if args.photo_frames:
        run_regressor(args.photo_frames, args.photo_threads, max(args.repeats, 3))


if __name__ == "__main__":
    main()
