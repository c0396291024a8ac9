"""docs/images/real_faces.jpg and the real-face table of docs/editing.md: ``python docs/images/make_real_faces_figure.py``.

``--frontalise`` prints only the frontalisation test (:func:`print_frontalised`). ``--tone identity`` (or
another classical-blender tone) prints the table with that tone and writes no committed figure (the local sheet gets the tone's name); so do ``--mode poisson`` (the classical blender's
gradient-domain paste), ``--model-path FILE`` (a model npz such
as the SFM's, fitted and rendered instead of the built-in model; the sheet gets the file's name) and ``--model
NAME`` (a registered model, e.g. ``ict`` after ``tfv models fetch ict``; the sheet gets its name); ``--relight``
(the editor's ``relight=True``) likewise.

A "clip" identity is a video of the photo (the target's similarity motion plus a constant 10° roll), its
texels fused over frames by the editor; D(identity) is measured against the still photo.

The committed figure shows public-domain faces only (scikit-image's astronaut and Grace Hopper's Navy
portrait, each also re-posed by the SDK to a 35° turn) swapped onto each other, and a remix of them with the
expression transferred as fitted (eq. 3) and relatively (``expression="relative"``). The table also covers photos kept under
``$TFV_FACES`` (see ``real_faces.py``; not committed): their numbers are printed, their pictures are written
to ``$TFV_FACES/sheets`` only. Needs the ``faces`` extra (dlib) and scikit-image.

Per case: D(identity) = max over output frames of the descriptor distance to the identity photo (both in
greyscale when the photo has no colour, as ``tfv eval``'s E_id: :func:`tfvsdk.metrics.has_colour`), D(target)
= min over frames of the distance to the target frame it replaced (both over the frames where dlib finds the
output's face: "no face found" counts the others, which no D describes), the seam ratio = mean midline seam
measure (:func:`tfvsdk.seam.midline_seam`) of the output over that of the target, the seam ratio vs identity =
the same mean over that of the identity photo at its own fit (a seam is an edge that neither source has: the
identity's own nose ridge or a turned nose's edge near the midline come with its texture), and E_tmp
(:func:`tfvsdk.flow.temporal_error`) with the 3-D flow of the composition of the fitted sources as the composer prepares them
(:meth:`tfvsdk.TaskComposer.prepare`: the relative transfers), whose midline the seam ratios use too; colour
outliers = the largest over the frames of :func:`tfvsdk.metrics.colour_outliers` of the output's face (the
composition's rendered mask) against the frames of the source it was pasted into (``edited_role``: its fitted
face and the pixels the output's face covers) and the identity photo's fitted face; stray edges = the largest
over the frames of :func:`tfvsdk.metrics.edit_stray_edges` of the output at the composition against the texture
source's frames (the photo, or 4 frames of a clip, at their fits) and the frames pasted into at theirs.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import tfvsdk
from tfvsdk import io, metrics
from tfvsdk.camera import euler_from_rotation
from tfvsdk.demo import synth_clips
from tfvsdk.editor import Editor
from tfvsdk.evaluate import spread_frames
from tfvsdk.flow import temporal_error
from tfvsdk.head_motion import carry_back, face_similarity, follow_face
from tfvsdk.morphable import load_npz, vertices
from tfvsdk.seam import midline_points, midline_seam
from tfvsdk.texture_confidence import face_texture
from tfvsdk.uncovered import fill_uncovered_features

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import real_faces  # noqa: E402

FRAMES = 24
PUBLIC = ("astronaut", "hopper")
"""The public-domain photos (:func:`real_faces.photos`), whose edits make the committed figure."""
EXPRESSIONS = ("absolute", "relative")
"""The remixes and reenactments run with each expression transfer (:mod:`tfvsdk.expression`)."""
BLENDER: dict[str, str] = {}
RECONSTRUCTOR: dict[str, object] = {}
EDITOR: dict[str, object] = {}


def turned(photo: np.ndarray, degrees: float | None) -> tuple[np.ndarray, float]:
    """``photo`` with its face re-posed by the SDK: fitted, textured as the editor textures an identity (not
    de-lit), rotated by ``degrees`` of yaw about the head's centre (None: by minus its fitted yaw, so that it
    faces the camera), rendered and pasted back with the classical blender — as the editor reenacts: the head
    around the face moved with it (:func:`tfvsdk.head_motion.follow_face`), the unseen mouth interior and the
    forehead under hair taken from that, the photo's own features that the turned face leaves uncovered
    filled first (in the photo's geometry); and the fitted yaw (degrees)."""
    editor = Editor("swap", reconstructor_config=RECONSTRUCTOR, blender_config=BLENDER)
    images = io.to_tensor([photo])
    fit = editor.reconstructor.fit(images)
    model = editor.model
    unwrapped = face_texture(images, fit.camera.project(model.shape(fit.alpha_id, fit.alpha_exp)), model)
    texture = torch.cat([unwrapped.texture, torch.maximum(unwrapped.mouth, unwrapped.forehead)], 1)
    fitted_yaw = math.degrees(float(euler_from_rotation(fit.camera.rotation)[0, 0]))
    yaw = math.radians(-fitted_yaw if degrees is None else degrees)
    turn = torch.tensor([[math.cos(yaw), 0.0, math.sin(yaw)], [0.0, 1.0, 0.0], [-math.sin(yaw), 0.0, math.cos(yaw)]])
    shape = model.shape(fit.alpha_id, fit.alpha_exp)
    centre = shape.mean(1, keepdim=True)
    vertices = fit.camera.project((shape - centre) @ turn.T + centre)
    rendering = editor.renderer.render(vertices, model.triangles, fit.image_size, uv=model.uv, texture=texture)
    mask = rendering.mask
    own = fit.camera.project(shape)
    matrix, shift = face_similarity(own, vertices)
    own_mask = editor.renderer.render(own, model.triangles, fit.image_size).mask
    filled = fill_uncovered_features(images, own, carry_back(mask, matrix, shift), model, editor.renderer)
    moved, frame = follow_face(torch.cat([images, filled], 1), matrix, shift, torch.maximum(own_mask, mask)).split(3, 1)
    from_frame = F.avg_pool2d(rendering.image[:, 3:4] * mask, 3, stride=1, padding=1, count_include_pad=False) * mask
    rendered = rendering.image[:, :3] + from_frame * (moved - rendering.image[:, :3])
    out = editor.blender.blend(rendered, frame, frame * (1 - mask), mask)
    return io.to_uint8(out)[0], fitted_yaw


def measure(task: str | tfvsdk.TaskComposer, sources: dict[str, Path], output: Path, identity: Path, target: Path) -> dict[str, float]:
    editor = Editor(task, reconstructor_config=RECONSTRUCTOR, blender_config=BLENDER, **EDITOR)
    summary = editor.run(sources, output, overwrite=True)
    out_frames = np.stack(list(io.iter_frames(output)))
    target_frames = np.stack(list(io.iter_frames(target)))[: len(out_frames)]
    still = io.read_rgb(identity)[None]
    as_identity = out_frames
    if not metrics.has_colour(io.to_tensor(still)):  # a black-and-white identity: compared in greyscale
        as_identity = io.to_uint8(metrics.luminance(io.to_tensor(list(out_frames))))
    d_id = np.linalg.norm(real_faces.descriptors(as_identity) - real_faces.descriptors(still)[0], axis=1)
    d_target = np.linalg.norm(real_faces.descriptors(out_frames) - real_faces.descriptors(target_frames), axis=1)
    with torch.no_grad():
        fitted = {role: editor.fit_source(role, path).fit for role, path in sources.items()}
        fits = editor.composer.prepare(fitted)
        n = min(f.batch_size for f in fits.values() if f.batch_size > 1)
        comp = editor.composer.compose({r: (f if f.batch_size > 1 else f[[0] * n])[:n] for r, f in fits.items()})
        points = midline_points(editor.model, comp.camera.project(editor.model.shape(comp.alpha_id, comp.alpha_exp)))
        video = io.to_tensor(list(out_frames[:n]))
        seam_out = midline_seam(video, points).mean()
        seam = float(seam_out / midline_seam(io.to_tensor(list(target_frames[:n])), points).mean())
        own = fits[comp.texture_role][:1]
        own_points = midline_points(editor.model, own.camera.project(editor.model.shape(own.alpha_id, own.alpha_exp)))
        seam_identity = float(seam_out / midline_seam(io.to_tensor(still), own_points)[0])
        flows, visible = metrics.fit_flows(comp, editor.model, editor.renderer)
        e_tmp = float(temporal_error(video, flows, visible))
        edited = editor.composer.edited_role
        pasted_into = io.to_tensor(list(_frames(sources[edited])[:n]))
        edited_region = _face_mask(editor, comp)
        covered = edited_region if len(pasted_into) == n else edited_region.amax(0, keepdim=True)
        references = [(pasted_into, torch.maximum(_face_mask(editor, fitted[edited][: len(pasted_into)]), covered)),
                      (io.to_tensor(still), _face_mask(editor, fitted[comp.texture_role][:1]))]
        outliers = metrics.colour_outliers(video, edited_region, references)
        own_frames = _frames(sources[comp.texture_role])
        views = torch.as_tensor(spread_frames(len(own_frames), 4))
        own_fit = fitted[comp.texture_role][views]
        pasted_fit = fitted[edited][: len(pasted_into)]
        pasted_fit = pasted_fit if len(pasted_into) == n else pasted_fit[[0] * n]
        stray = metrics.edit_stray_edges(editor.model, video, vertices(editor.model, comp), io.to_tensor(list(own_frames[views.numpy()])), vertices(editor.model, own_fit),
                                         pasted_into if len(pasted_into) == n else pasted_into.expand(n, -1, -1, -1), vertices(editor.model, pasted_fit))
    return {"D_identity_max": float(np.nanmax(d_id)), "D_target_min": float(np.nanmin(d_target)), "seam_ratio": seam,
            "seam_vs_identity": seam_identity,
            "E_tmp": e_tmp, "colour_outliers": float(outliers.max()), "stray_edges": float(stray.max()), "undetected": int(np.isnan(d_id).sum()), "fps": summary.frames / summary.seconds}


def _frames(path: Path) -> np.ndarray:
    return io.read_rgb(path)[None] if io.is_image_path(path) else np.stack(list(io.iter_frames(path)))


def _face_mask(editor: Editor, fit: tfvsdk.FaceFit) -> torch.Tensor:
    """(B, 1, H, W) the rendered mask of ``fit``'s faces."""
    return editor.renderer.render(vertices(editor.model, fit), editor.model.triangles, fit.image_size).mask


def _clip(path: Path, frames: np.ndarray) -> Path:
    with io.VideoWriter(path, 12.0) as writer:
        for frame in frames:
            writer.write(frame)
    return path


def _sheet(identity: np.ndarray, target: Path, output: Path) -> np.ndarray:
    picks = [0, FRAMES // 3, 2 * FRAMES // 3]
    t = np.stack(list(io.iter_frames(target)))[picks]
    o = np.stack(list(io.iter_frames(output)))[picks]
    side = t.shape[1]
    still = torch.nn.functional.interpolate(io.to_tensor([identity]), size=(side, side), mode="area")
    blank = np.full_like(t[0], 255)
    return np.concatenate([np.concatenate([io.to_uint8(still)[0], *t], 1), np.concatenate([blank, *o], 1)], 0)


def print_frontalised(stills: dict[str, np.ndarray]) -> None:
    """The frontalisation test, a quick check of how much of a person a texture and fit keep: each photo's
    face turned by :func:`turned` to face the camera and pasted back onto the photo; D between the result
    and the photo (a near-frontal photo re-rendered at its own pose tests the texture alone, a turned one the
    fit's 3-D shape and the completion of the hidden side too). The photo's own hair and shadows count in a
    texture's favour here, unlike on another face: judge the skin test by the swap table, not by this."""
    print("| photo | fitted yaw | D(frontalised, photo) |\n|---|---|---|")
    for name, photo in stills.items():
        if "turned" in name:
            continue
        frontal, yaw = turned(photo, None)
        d = float(np.linalg.norm(real_faces.descriptors(frontal[None])[0] - real_faces.descriptors(photo[None])[0]))
        print(f"| {name} | {yaw:.0f}° | {d:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tone", help="the classical blender's tone (default: its default); "
                        "given, only the table is printed and no figure is written")
    parser.add_argument("--mode", choices=("feather", "poisson"), help="the classical blender's mode (default: "
                        "its default); given, only the table is printed and no figure is written")
    parser.add_argument("--model-path", type=Path, help="a model npz (e.g. the SFM's) instead of the built-in "
                        "model; given, only the table is printed and no figure is written")
    parser.add_argument("--model", help="a registered model name (e.g. ict) instead of the built-in model; "
                        "given, only the table is printed and no figure is written")
    parser.add_argument("--relight", action="store_true", help="the editor's relight=True (de-lit texture under the "
                        "frame's light); given, only the table is printed and no figure is written")
    parser.add_argument("--frontalise", action="store_true", help="print only the frontalisation test of each "
                        "photo (see print_frontalised; ~20 s)")
    parser.add_argument("--only", metavar="TEXT", help="run only the cases whose name (as printed) contains TEXT; "
                        "given, no figure is written")
    args = parser.parse_args()
    wanted = lambda case: args.only is None or args.only in case  # noqa: E731
    if args.tone:
        BLENDER["tone"] = args.tone
    if args.mode:
        BLENDER["mode"] = args.mode
    if args.relight:
        EDITOR["relight"] = True
    if args.model_path:
        RECONSTRUCTOR["model"] = load_npz(args.model_path)
    elif args.model:
        RECONSTRUCTOR["model"] = tfvsdk.create("model", args.model)
    photos = real_faces.photos()
    rows: list[tuple[str, dict[str, float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        stills, clips = {}, {"synthetic": synth_clips(tmp, size=256, frames=FRAMES, fps=12.0, seed=7)["bob"].path}
        for name in PUBLIC:
            box = max(real_faces.face_boxes(photos[name]), key=lambda b: b[2])
            stills[name] = real_faces.similarity_clip(photos[name], box, frames=1)[0]
            stills[f"{name} turned 35°"], _ = turned(stills[name], 35.0)
            clips[name] = _clip(tmp / f"{name}.mp4", real_faces.similarity_clip(photos[name], box, frames=FRAMES))
        if "t1" in photos:
            names = ["rachel", "monica", "ross", "chandler", "joey", "phoebe"]
            for name, face in zip(names, real_faces.face_boxes(photos["t1"])):
                stills[name] = real_faces.similarity_clip(photos["t1"], face, frames=1)[0]
                if name in ("chandler", "phoebe", "ross"):
                    clips[name] = _clip(tmp / f"{name}.mp4", real_faces.similarity_clip(photos["t1"], face, frames=FRAMES))
        if "tom_hanks_54745" in photos:
            stills["hanks (112² grey)"] = photos["tom_hanks_54745"]
        if args.frontalise:
            print_frontalised(stills)
            return
        paths = {name: tmp / f"{name.split()[0]}_{i}.png" for i, name in enumerate(stills)}
        for name, image in stills.items():
            io.write_image(paths[name], image)
        cases = [("astronaut", "synthetic"), ("astronaut turned 35°", "synthetic"), ("astronaut", "hopper"),
                 ("hopper", "astronaut"), ("astronaut turned 35°", "hopper"), ("hopper turned 35°", "astronaut")]
        if "t1" in photos:
            cases += [("phoebe", "chandler"), ("monica", "chandler"), ("chandler", "phoebe"), ("astronaut", "ross"),
                      ("astronaut turned 35°", "ross"), ("joey", "phoebe")]
        if "hanks (112² grey)" in stills and "chandler" in clips:
            cases.append(("hanks (112² grey)", "chandler"))
        committed, local = [], []
        for identity, target in cases:
            if not wanted(f"swap {identity} → {target}"):
                continue
            output = tmp / f"out_{len(rows)}.mp4"
            result = measure("swap", {"identity": paths[identity], "target": clips[target]}, output, paths[identity], clips[target])
            rows.append((f"swap {identity} → {target}", result))
            sheet = _sheet(stills[identity], clips[target], output)
            if target in PUBLIC:
                committed.append(sheet)
            elif target != "synthetic":
                local.append(sheet)
        for identity, target in (("hopper", "astronaut"), ("astronaut", "hopper")):  # a clip as the identity
            if not wanted(f"swap {identity} clip → {target}"):
                continue
            box = max(real_faces.face_boxes(photos[identity]), key=lambda b: b[2])
            clip = _clip(tmp / f"{identity}_turning.mp4", real_faces.similarity_clip(photos[identity], box, frames=FRAMES, rotation=10.0))
            output = tmp / f"out_clip_{identity}.mp4"
            rows.append((f"swap {identity} clip → {target}", measure("swap", {"identity": clip, "target": clips[target]}, output, paths[identity], clips[target])))
        for expression in EXPRESSIONS:
            if not wanted(f"remix hopper (pose astronaut, expression synthetic, {expression})"):
                continue
            output = tmp / f"remix_public_{expression}.mp4"
            sources = {"identity": paths["hopper"], "pose": clips["astronaut"], "expression": clips["synthetic"]}
            remix = tfvsdk.create("composer", "remix", expression=expression)
            rows.append((f"remix hopper (pose astronaut, expression synthetic, {expression})", measure(remix, sources, output, paths["hopper"], clips["astronaut"])))
            committed.append(_sheet(stills["hopper"], clips["astronaut"], output))
        if "t1" in photos:
            for expression in EXPRESSIONS:
                output = tmp / f"remix_{expression}.mp4"
                if wanted(f"remix monica (pose chandler, expression phoebe, {expression})"):
                    sources = {"identity": paths["monica"], "pose": clips["chandler"], "expression": clips["phoebe"]}
                    remix = tfvsdk.create("composer", "remix", expression=expression)
                    rows.append((f"remix monica (pose chandler, expression phoebe, {expression})", measure(remix, sources, output, paths["monica"], clips["chandler"])))
                    local.append(_sheet(stills["monica"], clips["chandler"], output))
                for source in ("astronaut", "rachel"):
                    for pose in ("absolute", "relative") if expression == "relative" else ("absolute",):
                        name = f"reenact {source} (driver chandler, {expression}" + (", relative pose)" if pose == "relative" else ")")
                        if not wanted(name):
                            continue
                        output = tmp / f"reenact_{source}_{expression}_{pose}.mp4"
                        sources = {"source": paths[source], "driver": clips["chandler"]}
                        reenact = tfvsdk.create("composer", "reenact", expression=expression, pose=pose)
                        rows.append((name, measure(reenact, sources, output, paths[source], clips["chandler"])))
                        local.append(_sheet(stills[source], clips["chandler"], output))
        if not BLENDER and not RECONSTRUCTOR and not EDITOR and args.only is None:
            io.write_image(HERE / "real_faces.jpg", np.concatenate(committed, 0)[::2, ::2])
        if local and args.only is None:
            (real_faces.FACES / "sheets").mkdir(exist_ok=True)
            suffix = "".join(f"_{v}" for v in (BLENDER.get("tone"), BLENDER.get("mode"), args.model_path and args.model_path.stem, args.model, args.relight and "relit") if v)
            io.write_image(real_faces.FACES / "sheets" / f"real_faces_local{suffix}.png", np.concatenate(local, 0)[::2, ::2])
    print("| case | D(identity) max | D(target) min | no face found | seam ratio | seam vs identity | E_tmp | colour outliers | stray edges | frames/s |\n|---|---|---|---|---|---|---|---|---|---|")
    for name, r in rows:
        print(f"| {name} | {r['D_identity_max']:.3f} | {r['D_target_min']:.3f} | {r['undetected']} / {FRAMES} | {r['seam_ratio']:.2f} | {r['seam_vs_identity']:.2f} | {r['E_tmp']:.2f} | {100 * r['colour_outliers']:.1f} % | {100 * r['stray_edges']:.1f} % | {r['fps']:.1f} |")


if __name__ == "__main__":
    main()
