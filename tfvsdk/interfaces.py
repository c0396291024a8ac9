"""The abstract components of the editing pipeline (see docs/concepts.md for the data flow).

Every default implementation is a plugin and registers exactly as a third-party plugin does (see
:mod:`tfvsdk.hookspecs`). Images are (B, 3, H, W) float tensors in [0, 1]; screen space is described in
:mod:`tfvsdk.camera`. Implementations follow the device of their inputs.

Each interface's public method (``detect``, ``fit``, ``fit_video``, ``render``, ``blend``, ``compose``) is a
template method: it checks the inputs (:class:`~tfvsdk.errors.InputError`: the caller's mistake), calls the
implementation method a component provides (``_detect``, ``_fit``, ``_fit_video``, ``_render``, ``_blend``,
``_compose``) and checks what came back against the contract (:class:`~tfvsdk.errors.PluginError` naming the
plugin: the component's mistake). Components therefore do not repeat these checks. A class written for the
first version of the contract, overriding the public method itself, still works: the method is adopted as
the implementation with a ``DeprecationWarning``.
"""

from __future__ import annotations

import abc
import math
import os
import re
import warnings
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import torch

from .checks import check_range, check_tensor
from .errors import InputError, PluginError
from .morphable import MorphableModel
from .records import Composition, Detection, Faces, FaceFit, Rendering


def _broken(component: object, message: str) -> PluginError:
    """A PluginError for ``component`` breaking its contract, naming its plugin when it was created by name."""
    from .plugins import describe, origin

    comp = origin(component)
    return PluginError(
        f"{describe(component)} broke its contract: {message}",
        plugin=comp and comp.plugin, kind=comp and comp.kind, name=comp and comp.name,
    )


def _adopt_legacy(cls: type, public: str, implementation: str) -> None:
    """Make a class that overrides the public ``public`` method (contract v1) implement ``implementation``."""
    own = cls.__dict__.get(public)
    if own is None or not getattr(getattr(cls, implementation, None), "__isabstractmethod__", False):
        return
    if implementation in cls.__dict__:
        raise TypeError(f"{cls.__qualname__} defines both {public}() and {implementation}(); implement {implementation}() only")
    warnings.warn(
        f"{cls.__qualname__} overrides {public}(); implement {implementation}() instead, so that {public}() can "
        "check the contract around it",
        DeprecationWarning,
        stacklevel=4,
    )
    setattr(cls, implementation, own)
    delattr(cls, public)


def _check_images(name: str, images: object, sizes: dict[str, int]) -> None:
    check_tensor(name, images, ("B", 3, "H", "W"), sizes)
    check_range(name, images, 0.0, 1.0)  # type: ignore[arg-type]


def _versions(tensors: Mapping[str, torch.Tensor]) -> dict[str, int]:
    return {name: t._version for name, t in tensors.items()}


def _check_untouched(component: object, tensors: Mapping[str, torch.Tensor], before: dict[str, int]) -> None:
    changed = [name for name, t in tensors.items() if t._version != before[name]]
    if changed:
        raise _broken(component, f"it modified its input(s) {changed} in place")


class LandmarkDetector(abc.ABC):
    """Finds 68 iBUG landmarks in images.

    Contract: ``detect`` returns one :class:`Detection` row per input image in input order, for the input's
    image size; an image with no face has ``found = False`` and NaN landmarks (never dropped); a found
    face may have NaN for single landmarks it could not place, never infinite values. A detector used on consecutive frames of a video may track
    (``video=True``); :meth:`reset` forgets the tracked state. Implement :meth:`_detect`.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _adopt_legacy(cls, "detect", "_detect")

    def detect(self, images: torch.Tensor, *, video: bool = False) -> Detection:
        """Landmarks of (B, 3, H, W) images in [0, 1]; ``video=True`` means consecutive frames of one clip.

        Raises:
            InputError: images that are not (B, 3, H, W), finite and in [0, 1].
            PluginError: the detector returned something that breaks the contract.
        """
        sizes: dict[str, int] = {}
        _check_images("images", images, sizes)
        detection = self._detect(images, video=video)
        if not isinstance(detection, Detection):
            raise _broken(self, f"detect() returned {type(detection).__name__}, not a Detection")
        if detection.found.shape[0] != sizes["B"] or detection.image_size != (sizes["H"], sizes["W"]):
            raise _broken(
                self,
                f"detect() returned {detection.found.shape[0]} rows for size {detection.image_size}; expected "
                f"{sizes['B']} rows for size {(sizes['H'], sizes['W'])}",
            )
        points = detection.landmarks
        if not torch.isnan(points[~detection.found]).all() or torch.isinf(points).any():
            raise _broken(self, "landmarks must be NaN where no face was found (and never infinite)")
        return detection

    @abc.abstractmethod
    def _detect(self, images: torch.Tensor, *, video: bool) -> Detection:
        """Detect on checked (B, 3, H, W) images in [0, 1] (see :meth:`detect`)."""

    def detect_all(self, images: torch.Tensor) -> list[Faces]:
        """Every face of each of (B, 3, H, W) images in [0, 1]: one :class:`Faces` per image, in input order.

        Each image is searched on its own (no tracking). Optional: the default raises.

        Raises:
            InputError: images that are not (B, 3, H, W), finite and in [0, 1].
            PluginError: the detector finds one face per image only, or broke the contract.
        """
        sizes: dict[str, int] = {}
        _check_images("images", images, sizes)
        found = self._detect_all(images)
        if not isinstance(found, list) or len(found) != sizes["B"] or not all(isinstance(f, Faces) for f in found):
            raise _broken(self, f"detect_all() must return a list of {sizes['B']} Faces, got {type(found).__name__}")
        if any(f.image_size != (sizes["H"], sizes["W"]) for f in found):
            raise _broken(self, f"detect_all() returned faces for another image size than {(sizes['H'], sizes['W'])}")
        return found

    def _detect_all(self, images: torch.Tensor) -> list[Faces]:
        """Every face of checked images (see :meth:`detect_all`); override it to support several faces."""
        from .plugins import describe

        raise PluginError(f"{describe(self)} finds one face per image; choosing among several faces needs a detector "
                          "that implements _detect_all() (e.g. 'dlib' or 'dlib-cnn')")

    def reset(self) -> None:
        """Forget any state carried between calls (the tracked face box)."""


class IdentityEmbedder(abc.ABC):
    """Maps face images to identity vectors of a face-recognition model (E_id, paper §4 and ref. [33]).

    Contract: ``embed`` returns one (D,) row per input image in input order, :attr:`dim` = D; an image with
    no face gets a NaN row (never dropped). Vectors of one person point in similar directions: the SDK
    compares them by cosine similarity (:func:`tfvsdk.metrics.identity_distance`).
    """

    dim: ClassVar[int]

    @abc.abstractmethod
    def embed(self, images: torch.Tensor, *, detection: Detection | None = None, video: bool = False) -> torch.Tensor:
        """(B, D) identity vectors of (B, 3, H, W) images in [0, 1].

        Args:
            images: the images.
            detection: their 68 landmarks when already known (an embedder that aligns faces with
                landmarks uses them instead of detecting); others may ignore it.
            video: the images are consecutive frames of one clip (a detector may track the face).
        """


_CONSOLIDATE = 8
"""Chunk fits kept apart at most, in :meth:`Reconstructor._fit_video`: each chunk's small tensors, held while the
next chunks' large transient ones come and go, split glibc's heap into holes it cannot reuse (resident memory
grew by ~2.4 MB per 16-frame chunk at 128²); joined every few chunks, the holes merge again."""


class Reconstructor(abc.ABC):
    """Fits a 3DMM to images (paper §3.2): identity α_id, expression α_exp and camera C per image.

    Contract: ``fit`` returns a :class:`FaceFit` with batch B, coefficients sized for :attr:`model` and of its
    dtype (:meth:`~tfvsdk.MorphableModel.shape` needs them so), the images' size, and ``found`` False for
    images where no face was found (never dropped, never an exception for a partially empty batch). With ``clip=True`` the images are consecutive frames of one person and the
    fit shares one identity across them (α_id rows equal). A landmark-driven reconstructor uses
    ``detection`` when it is given instead of detecting landmarks itself (precomputed or annotated
    landmarks); others may ignore it. Implement :meth:`_fit` (and :meth:`_fit_video` to share one identity
    over a whole clip).
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _adopt_legacy(cls, "fit", "_fit")
        if "fit_video" in cls.__dict__ and "_fit_video" not in cls.__dict__:
            warnings.warn(
                f"{cls.__qualname__} overrides fit_video(); implement _fit_video() instead", DeprecationWarning, stacklevel=3
            )
            cls._fit_video = cls.__dict__["fit_video"]  # type: ignore[attr-defined]
            delattr(cls, "fit_video")

    @property
    @abc.abstractmethod
    def model(self) -> MorphableModel:
        """The morphable model whose coefficients :meth:`fit` returns."""

    def fit(self, images: torch.Tensor, *, clip: bool = False, detection: Detection | None = None) -> FaceFit:
        """Fit (B, 3, H, W) images in [0, 1] (with their landmarks ``detection`` when known).

        Raises:
            InputError: images that are not (B, 3, H, W), finite and in [0, 1], or a detection of another
                batch or image size.
            PluginError: the reconstructor returned a fit that breaks the contract.
        """
        size = self._check_chunk(images, detection)
        fit = self._fit(images, clip=clip, detection=detection)
        self._check_fit(fit, images.shape[0], size, clip, "fit()")
        return fit

    @abc.abstractmethod
    def _fit(self, images: torch.Tensor, *, clip: bool, detection: Detection | None) -> FaceFit:
        """Fit checked images (see :meth:`fit`)."""

    def pose_spread(self, fit: FaceFit) -> torch.Tensor:
        """(B,) expected error of each frame's fitted head rotation in degrees (NaN where no face): how well
        the image evidence determines the pose. Optional: the default raises.

        Raises:
            PluginError: this reconstructor does not estimate the uncertainty of its poses.
        """
        raise PluginError(f"reconstructor {type(self).__name__} does not estimate the uncertainty of its poses (pose_spread)")

    def fit_video(self, chunks: Iterable[tuple[torch.Tensor, Detection | None]]) -> FaceFit:
        """Fit a whole clip streamed as chunks of consecutive frames ``(images, detection or None)``.

        Only the fits are kept, so memory grows with the clip's length by a few hundred bytes per frame.
        The result has one row per frame and one identity (α_id rows equal).

        Raises:
            InputError: a chunk that :meth:`fit` would refuse, or chunks of different frame sizes.
            PluginError: the reconstructor returned a fit that breaks the contract.
        """
        seen = {"frames": 0, "size": None}

        def checked() -> Iterator[tuple[torch.Tensor, Detection | None]]:
            for images, detection in chunks:
                size = self._check_chunk(images, detection, same_size=False)
                if seen["size"] is not None and seen["size"] != size:
                    raise InputError(f"fit_video: chunks have different frame sizes {sorted({seen['size'], size})}")
                seen["size"] = size
                seen["frames"] += images.shape[0]
                yield images, detection

        fit = self._fit_video(checked())
        if seen["size"] is None:
            raise InputError("fit_video: the clip has no frames")
        self._check_fit(fit, seen["frames"], seen["size"], True, "fit_video()")
        return fit

    def _fit_video(self, chunks: Iterator[tuple[torch.Tensor, Detection | None]]) -> FaceFit:
        """Fit checked chunks. The default fits each chunk with ``clip=True`` and concatenates (one identity
        per chunk); override it to share one identity across the whole clip."""
        fits: list[FaceFit] = []
        for images, detection in chunks:
            fits.append(self.fit(images, clip=True, detection=detection))
            if len(fits) == _CONSOLIDATE:
                fits = [FaceFit.cat(fits)]
        if not fits:
            raise InputError("fit_video: the clip has no frames")
        return FaceFit.cat(fits)

    @staticmethod
    def _check_chunk(images: torch.Tensor, detection: Detection | None, *, same_size: bool = True) -> tuple[int, int]:
        """The frame size of a checked chunk: the detection's when given (in :meth:`fit_video` the images may
        then be placeholders of another size, ``same_size=False``), else the images'."""
        sizes: dict[str, int] = {}
        _check_images("images", images, sizes)
        size = (sizes["H"], sizes["W"])
        if detection is None:
            return size
        if not isinstance(detection, Detection):
            raise InputError(f"detection: expected a Detection, got {type(detection).__name__}")
        if detection.found.shape[0] != sizes["B"] or (same_size and detection.image_size != size):
            raise InputError(
                f"detection: expected {sizes['B']} rows for images of size {size}, got "
                f"{detection.found.shape[0]} rows for size {detection.image_size}"
            )
        return detection.image_size

    def _check_fit(self, fit: object, batch: int, size: tuple[int, int], clip: bool, call: str) -> None:
        if not isinstance(fit, FaceFit):
            raise _broken(self, f"{call} returned {type(fit).__name__}, not a FaceFit")
        model = self.model
        expected = {"batch": batch, "K_id": model.n_id, "K_exp": model.n_exp, "image_size": size}
        actual = {"batch": fit.batch_size, "K_id": fit.alpha_id.shape[1], "K_exp": fit.alpha_exp.shape[1], "image_size": fit.image_size}
        wrong = {k: v for k, v in actual.items() if v != expected[k]}
        if wrong:
            raise _broken(self, f"{call} returned a fit with {wrong}; expected {({k: expected[k] for k in wrong})}")
        dtypes = {"alpha_id": fit.alpha_id.dtype, "alpha_exp": fit.alpha_exp.dtype}
        if any(d != model.id_basis.dtype for d in dtypes.values()):
            raise _broken(self, f"{call} returned coefficients of dtype {dtypes} for a model of dtype {model.id_basis.dtype}")
        if clip and fit.batch_size > 1 and not torch.allclose(fit.alpha_id, fit.alpha_id[:1].expand_as(fit.alpha_id), rtol=1e-5, atol=1e-6):
            raise _broken(self, f"{call} of a clip must share one identity, but its alpha_id rows differ")


class Renderer(abc.ABC):
    """Rasterizes a textured triangle mesh given in screen space (eq. 3, R = P(S, T^i, C^p)).

    Contract: the returned :class:`Rendering` has the buffers described there for the input's batch and the
    requested size, with the semantics of :mod:`tfvsdk.raster` (nearest surface wins; pixel centres at
    +0.5; no back-face culling). ``image`` is the texture looked up through ``uv`` (bilinear), or a plain
    shading when ``texture`` is None, and is differentiable w.r.t. ``vertices`` (through the barycentrics)
    and ``texture``. Implement :meth:`_render`.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _adopt_legacy(cls, "render", "_render")

    def render(
        self,
        vertices: torch.Tensor,
        triangles: torch.Tensor,
        image_size: tuple[int, int],
        *,
        uv: torch.Tensor | None = None,
        texture: torch.Tensor | None = None,
    ) -> Rendering:
        """Render a mesh.

        Args:
            vertices: (B, N, 3) screen-space vertices (pixels; z toward the viewer).
            triangles: (T, 3) integer vertex indices in [0, N).
            image_size: (height, width) of the output.
            uv: (N, 2) texture coordinates in [0, 1], v downward (row 0 of the texture image at v = 0).
            texture: (B or 1, C, Ht, Wt) texture images in [0, 1]; needs ``uv``.

        Raises:
            InputError: inputs of the wrong shape, type or range.
            PluginError: the renderer returned a rendering of another batch or size, or modified an input.
        """
        sizes: dict[str, int] = {}
        check_tensor("vertices", vertices, ("B", "N", 3), sizes)
        check_tensor("triangles", triangles, (None, 3), floating=False)
        if triangles.is_floating_point() or triangles.dtype == torch.bool:
            raise InputError(f"triangles: expected an integer tensor, got {triangles.dtype}")
        if triangles.numel() and (int(triangles.min()) < 0 or int(triangles.max()) >= sizes["N"]):
            raise InputError(f"triangles: vertex indices must lie in [0, {sizes['N']}), got [{int(triangles.min())}, {int(triangles.max())}]")
        if len(tuple(image_size)) != 2 or any(not isinstance(v, int) or v <= 0 for v in image_size):
            raise InputError(f"image_size: expected (height, width) of positive ints, got {image_size!r}")
        inputs = {"vertices": vertices}
        if texture is not None:
            if uv is None:
                raise InputError("uv: required when a texture is given")
            check_tensor("uv", uv, (sizes["N"], 2))
            check_tensor("texture", texture, (None, None, None, None))
            if texture.shape[0] not in (1, sizes["B"]):
                raise InputError(f"texture: expected a batch of 1 or {sizes['B']}, got shape {tuple(texture.shape)}")
            inputs["texture"] = texture
        elif uv is not None:
            check_tensor("uv", uv, (sizes["N"], 2))
        before = _versions(inputs)
        rendering = self._render(vertices, triangles, tuple(image_size), uv=uv, texture=texture)
        if not isinstance(rendering, Rendering):
            raise _broken(self, f"render() returned {type(rendering).__name__}, not a Rendering")
        if rendering.image.shape[0] != sizes["B"] or rendering.image_size != tuple(image_size):
            raise _broken(
                self,
                f"render() returned batch {rendering.image.shape[0]} of size {rendering.image_size}; expected "
                f"batch {sizes['B']} of size {tuple(image_size)}",
            )
        _check_untouched(self, inputs, before)
        return rendering

    @abc.abstractmethod
    def _render(
        self,
        vertices: torch.Tensor,
        triangles: torch.Tensor,
        image_size: tuple[int, int],
        *,
        uv: torch.Tensor | None,
        texture: torch.Tensor | None,
    ) -> Rendering:
        """Render checked inputs (see :meth:`render`)."""


class Blender(abc.ABC):
    """Fuses the rendered face with the appearance frame (paper §3.3): Y = G(R, E(X_p, M), M̂).

    Contract: inputs share batch, size, dtype and device; the output is (B, 3, H, W) in [0, 1], finite, of
    the inputs' dtype (unless autocast is on) and device; the inputs are not modified; each batch item's
    output depends on that item only. Implement :meth:`_blend`. A trainable blender derives from
    :class:`TrainableBlender`.
    """

    trainable: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _adopt_legacy(cls, "blend", "_blend")

    def blend(
        self,
        rendered: torch.Tensor,
        appearance: torch.Tensor,
        hint: torch.Tensor,
        mask: torch.Tensor,
    ) -> torch.Tensor:
        """Blend.

        Args:
            rendered: (B, 3, H, W) rendered face R.
            appearance: (B, 3, H, W) appearance frame X_p.
            hint: (B, 3, H, W) appearance hint M = X (1 − M̂).
            mask: (B, 1, H, W) face mask M̂ in [0, 1].

        Returns:
            (B, 3, H, W) output frame Y in [0, 1].

        Raises:
            InputError: inputs of the wrong shape, dtype, device or range.
            PluginError: an output of the wrong shape, dtype, device or range, or modified inputs.
        """
        inputs = {"rendered": rendered, "appearance": appearance, "hint": hint, "mask": mask}
        sizes: dict[str, int] = {}
        for name, x in inputs.items():
            check_tensor(name, x, ("B", 1 if name == "mask" else 3, "H", "W"), sizes)
        kinds = {(x.dtype, x.device) for x in inputs.values()}
        if len(kinds) > 1:
            raise InputError(f"blend: inputs must share dtype and device, got {sorted(map(str, kinds))}")
        check_range("mask", mask, 0.0, 1.0)
        before = _versions(inputs)
        out = self._blend(rendered, appearance, hint, mask)
        expected = (sizes["B"], 3, sizes["H"], sizes["W"])
        if not isinstance(out, torch.Tensor):
            raise _broken(self, f"blend() returned {type(out).__name__}, not a torch.Tensor")
        if tuple(out.shape) != expected:
            raise _broken(self, f"blend() returned shape {tuple(out.shape)}, expected {expected}")
        if out.device != rendered.device:
            raise _broken(self, f"blend() returned a tensor on {out.device} for inputs on {rendered.device}")
        if out.dtype != rendered.dtype and not torch.is_autocast_enabled(out.device.type):
            raise _broken(self, f"blend() returned {out.dtype} for {rendered.dtype} inputs")
        with torch.no_grad():
            low, high = (float(v) for v in torch.aminmax(out.detach()))  # NaN and ±inf show in the extremes
        if not (math.isfinite(low) and math.isfinite(high)):
            raise _broken(self, "blend() returned NaN or infinite values")
        if low < 0 or high > 1:
            raise _broken(self, f"blend() returned values in [{low:.4g}, {high:.4g}], outside [0, 1]")
        _check_untouched(self, inputs, before)
        return out

    @abc.abstractmethod
    def _blend(self, rendered: torch.Tensor, appearance: torch.Tensor, hint: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Blend checked inputs (see :meth:`blend`)."""


_ROLE = re.compile(r"^[a-z][a-z0-9_]*$")
RESERVED_ROLES = frozenset(
    {"output", "reconstructor", "renderer", "blender", "blender_weights", "smoothing", "length", "landmarks", "overwrite", "device", "opt",
     "face", "face_ref", "all_faces", "face_detector"}
)
"""Names a role may not take: they are the options of every editing command (``--ROLE PATH``)."""


class TaskComposer(abc.ABC):
    """Chooses which source supplies identity, expression, pose and appearance (eq. 2, §3.2).

    Contract: :attr:`roles` names the sources the task takes (in the order the command line asks for
    them), as a class attribute (each role becomes a ``--ROLE`` option of the task's command);
    :attr:`timeline_role` is the role whose frame rate, length, frame size and audio the output follows;
    :meth:`compose` takes one :class:`FaceFit` per role, all of batch B (frame-aligned), and only
    *chooses*: it computes nothing the model or the renderer already does. Its composition names roles of
    the task. Implement :meth:`_compose`. The class attributes are checked when the class is defined.
    """

    roles: ClassVar[tuple[str, ...]]
    timeline_role: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _adopt_legacy(cls, "compose", "_compose")
        if not hasattr(cls, "roles") and not hasattr(cls, "timeline_role"):
            return  # a base class for composers; its subclasses set the roles
        where = f"composer class {cls.__module__}.{cls.__qualname__}"
        roles = getattr(cls, "roles", None)
        if isinstance(roles, list):
            roles = cls.roles = tuple(roles)
        if not isinstance(roles, tuple) or not roles or not all(isinstance(r, str) for r in roles):
            raise TypeError(f"{where}: roles must be a non-empty tuple of names, got {roles!r}")
        bad = [r for r in roles if not _ROLE.match(r) or r in RESERVED_ROLES]
        if bad or len(set(roles)) != len(roles):
            raise TypeError(
                f"{where}: roles must be distinct lower-case names (letters, digits, _) other than "
                f"{sorted(RESERVED_ROLES)}, got {roles}"
            )
        timeline = getattr(cls, "timeline_role", None)
        if timeline not in roles:
            raise TypeError(f"{where}: timeline_role {timeline!r} is not one of its roles {roles}")

    def __new__(cls, *args: Any, **kwargs: Any) -> TaskComposer:
        if not hasattr(cls, "roles"):
            raise TypeError(f"composer class {cls.__qualname__}: roles and timeline_role must be class attributes")
        return super().__new__(cls)

    def compose(self, fits: Mapping[str, FaceFit]) -> Composition:
        """Build the composition from ``fits[role]`` for every role in :attr:`roles`.

        Raises:
            InputError: a missing role, a fit that is not a FaceFit, fits of different batches or models.
            PluginError: a composition that is not one, names an unknown role, or has another batch.
        """
        roles = self._check_roles(fits)
        shapes = {r: (fits[r].batch_size, fits[r].alpha_id.shape[1], fits[r].alpha_exp.shape[1]) for r in roles}
        if len(set(shapes.values())) > 1:
            raise InputError(f"{type(self).__name__}: the fits differ in (batch, K_id, K_exp): {shapes}")
        batch, n_id, n_exp = shapes[roles[0]]
        composition = self._compose(fits)
        if not isinstance(composition, Composition):
            raise _broken(self, f"compose() returned {type(composition).__name__}, not a Composition")
        unknown = {
            attr: getattr(composition, attr)
            for attr in ("texture_role", "appearance_role", "hint_role")
            if getattr(composition, attr) not in roles
        }
        if unknown:
            raise _broken(self, f"compose() named roles the task does not have: {unknown}; its roles are {list(roles)}")
        got = (composition.camera.batch_size, composition.alpha_id.shape[1], composition.alpha_exp.shape[1])
        if got != (batch, n_id, n_exp):
            raise _broken(self, f"compose() returned (batch, K_id, K_exp) = {got}; the fits have {(batch, n_id, n_exp)}")
        return composition

    def prepare(self, fits: Mapping[str, FaceFit]) -> dict[str, FaceFit]:
        """The fits to compose from, given each role's fit of its *whole* source (every frame, misses bridged).

        The editor calls this once per edited face before it composes chunk by chunk, so that a composer can
        use what one chunk does not show (e.g. a source's rest expression, :mod:`tfvsdk.expression`); the
        trainer once per sample, with the fits of the clip (or image) each role's frame comes from.
        Implement :meth:`_prepare` (default: the fits unchanged); the batches may differ between roles here.

        Raises:
            InputError: a missing role or a fit that is not a FaceFit.
            PluginError: the result lacks a role, holds a non-FaceFit, or changes a fit's batch size or
                coefficient counts.
        """
        roles = self._check_roles(fits)
        prepared = self._prepare({r: fits[r] for r in roles})
        if not isinstance(prepared, Mapping) or set(prepared) != set(roles):
            got = sorted(prepared) if isinstance(prepared, Mapping) else type(prepared).__name__
            raise _broken(self, f"prepare() must return one fit per role {list(roles)}, got {got}")

        def shape(fit: FaceFit) -> tuple[int, int, int]:
            return fit.batch_size, fit.alpha_id.shape[1], fit.alpha_exp.shape[1]

        changed = {r: shape(prepared[r]) if isinstance(prepared[r], FaceFit) else type(prepared[r]).__name__
                   for r in roles if not isinstance(prepared[r], FaceFit) or shape(prepared[r]) != shape(fits[r])}
        if changed:
            raise _broken(self, f"prepare() changed the (batch, K_id, K_exp) of roles {changed} or returned non-FaceFits")
        return dict(prepared)

    def _prepare(self, fits: dict[str, FaceFit]) -> dict[str, FaceFit]:
        """Prepare checked whole-source fits (see :meth:`prepare`); default: unchanged."""
        return fits

    def _check_roles(self, fits: Mapping[str, FaceFit]) -> tuple[str, ...]:
        """The task's roles, after checking that ``fits`` holds a FaceFit for each."""
        roles = tuple(type(self).roles)
        missing = [r for r in roles if r not in fits]
        if missing:
            raise InputError(f"{type(self).__name__}: missing fits for roles {missing}; expected {list(roles)}")
        wrong = [r for r in roles if not isinstance(fits[r], FaceFit)]
        if wrong:
            raise InputError(f"{type(self).__name__}: fits for roles {wrong} are not FaceFit records")
        return roles

    @property
    def edited_role(self) -> str:
        """The role whose frames the output shows (its compositions' ``appearance_role``): the source whose
        faces a face choice (``--face``, ``--face-ref``, ``--all-faces``) picks. Default: the timeline role."""
        return type(self).timeline_role

    @abc.abstractmethod
    def _compose(self, fits: Mapping[str, FaceFit]) -> Composition:
        """Compose checked fits (see :meth:`compose`)."""


class TrainableBlender(Blender, torch.nn.Module):
    """A blender the trainer can train (paper §3.3–3.4) and ``--blender-weights DIR`` can load.

    Contract, beyond :class:`Blender`'s:

    * it is an ``nn.Module`` whose ``__init__`` takes keyword settings only and calls ``super().__init__()``;
    * ``embedder``: an ``nn.Module`` attribute, E(image (B, 3, H, W), hint (B, 3, H, W)) → a (B, …) tensor,
      the appearance code L_app compares (eq. 6);
    * ``discriminator``: an ``nn.Module`` attribute or None (editing needs none); D(image (B, 3, H, W) in
      [0, 1]) returns a *list* of logit maps (B, 1, h_k, w_k), one per scale (eq. 8);
    * :meth:`build_discriminator` makes a new D (the trainer calls :meth:`enable_discriminator`);
    * :meth:`get_config` returns the JSON-serialisable settings such that ``type(self)(**config)`` (or the
      registered factory called with them) rebuilds the same architecture.

    :meth:`save_pretrained` / :meth:`from_pretrained` store and restore it as a folder of ``config.json`` and
    ``model.safetensors`` (:mod:`tfvsdk.pretrained`, with a format version).
    """

    trainable: ClassVar[bool] = True

    @abc.abstractmethod
    def get_config(self) -> dict[str, Any]:
        """The keyword settings that rebuild this architecture (JSON types only)."""

    @abc.abstractmethod
    def build_discriminator(self) -> torch.nn.Module:
        """A new discriminator D for training this blender (see the class docstring for its contract)."""

    def enable_discriminator(self) -> torch.nn.Module:
        """D, built with :meth:`build_discriminator` (and moved to this module's device) if there is none yet."""
        if getattr(self, "discriminator", None) is None:
            d = self.build_discriminator()
            if not isinstance(d, torch.nn.Module):
                raise _broken(self, f"build_discriminator() returned {type(d).__name__}, not an nn.Module")
            parameter = next(self.parameters(), None)
            self.discriminator = d if parameter is None else d.to(parameter.device)
        return self.discriminator

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write ``config.json`` (settings + format version) and ``model.safetensors`` (all weights, D included
        when present) to ``directory`` (created if needed); returns it."""
        from . import pretrained

        return pretrained.save(directory, cls=type(self), config=self.get_config(), tensors=self.state_dict())

    def load_pretrained(self, directory: str | os.PathLike) -> None:
        """Load the weights of a folder written by :meth:`save_pretrained` into this (matching) blender.

        D's weights are loaded when both the folder and this blender have D, and skipped otherwise.

        Raises:
            ModelFileError: a missing or unreadable folder, or weights that do not fit (named).
        """
        from . import pretrained

        pretrained.read_config(directory)
        pretrained.fit_state(self, pretrained.read_weights(directory), str(directory), optional_prefix="discriminator.")

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, **overrides: Any) -> TrainableBlender:
        """Rebuild a blender saved by :meth:`save_pretrained`: ``cls(**config, **overrides)``, then its weights.

        To load by registered name (through the plugin's factory) use
        :func:`tfvsdk.plugins.create_pretrained`.
        """
        from . import pretrained

        settings = {**pretrained.read_config(directory), **overrides}
        blender = pretrained.build_within(directory, lambda: cls(**settings))
        blender.load_pretrained(directory)
        return blender
