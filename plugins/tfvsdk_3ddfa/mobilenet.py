"""The MobileNet-V1 regressor of 3DDFA_V2, with checkpoint files in its release format.

The network (Howard et al. 2017, as 3DDFA_V2 configures it): a stride-2 3×3 convolution, thirteen depthwise-
separable blocks (3×3 depthwise + 1×1 pointwise, each followed by batch norm and ReLU; strides 1,2,1,2,1,2,
1,1,1,1,1,2,1), global average pooling and linear heads. Widths are the standard 32 … 1024 channels times the
width multiplier (0.5 for ``mb05_120x120.pth``, 1.0 for ``mb1_120x120.pth``). The input is a 120×120 BGR
crop normalised as (x − 127.5) / 128 (:func:`~.params.crop_images`); the output is 3DDFA_V2's 62-parameter
vector in normalised form (:class:`~.params.ParamStats` de-normalises it).

Parameter names follow 3DDFA_V2 so that its released checkpoints load as they are: ``conv1``, ``bn1``,
``dw2_1`` … ``dw6`` with ``conv_dw``/``bn_dw``/``conv_sep``/``bn_sep`` inside, and two heads, ``fc_param``
(62 parameters) and ``fc_lm`` (136 = 68 × 2 landmark values, present in the released files, unused by
3DDFA_V2's inference and here). The release stores ``{"epoch": …, "state_dict": {"module." + name: tensor}}``
(the prefix of ``nn.DataParallel``); :func:`load_checkpoint` reads that with ``torch.load(weights_only=True)``,
so loading never runs code from the file.
"""

from __future__ import annotations

import os
from collections import OrderedDict

import torch
from torch import nn

from tfvsdk import InputError, ModelFileError, publish
from tfvsdk.checks import check_tensor

from .params import CROP_SIZE, PARAM_COUNT, ParamStats, crop_images

LANDMARK_VALUES = 136

# (name, input channels, output channels, stride) of the depthwise-separable blocks, at width 1.
_BLOCKS = (
    ("dw2_1", 32, 64, 1),
    ("dw2_2", 64, 128, 2),
    ("dw3_1", 128, 128, 1),
    ("dw3_2", 128, 256, 2),
    ("dw4_1", 256, 256, 1),
    ("dw4_2", 256, 512, 2),
    ("dw5_1", 512, 512, 1),
    ("dw5_2", 512, 512, 1),
    ("dw5_3", 512, 512, 1),
    ("dw5_4", 512, 512, 1),
    ("dw5_5", 512, 512, 1),
    ("dw5_6", 512, 1024, 2),
    ("dw6", 1024, 1024, 1),
)


class DepthwiseSeparable(nn.Module):
    """3×3 depthwise convolution and 1×1 pointwise convolution, each with batch norm and ReLU."""

    def __init__(self, channels_in: int, channels_out: int, stride: int) -> None:
        super().__init__()
        self.conv_dw = nn.Conv2d(channels_in, channels_in, 3, stride, 1, groups=channels_in, bias=False)
        self.bn_dw = nn.BatchNorm2d(channels_in)
        self.conv_sep = nn.Conv2d(channels_in, channels_out, 1, bias=False)
        self.bn_sep = nn.BatchNorm2d(channels_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.bn_dw(self.conv_dw(x)))
        return torch.relu(self.bn_sep(self.conv_sep(x)))


class MobileNetV1(nn.Module):
    """3DDFA_V2's parameter regressor.

    Args:
        width: width multiplier (0.5 or 1.0 for the released checkpoints).
        landmark_head: include the ``fc_lm`` head of the released checkpoints (its output is unused).

    Example:
        >>> net = MobileNetV1(width=0.5).eval()
        >>> net(torch.zeros(1, 3, 120, 120)).shape
        torch.Size([1, 62])
    """

    def __init__(self, width: float = 1.0, *, landmark_head: bool = True) -> None:
        super().__init__()
        if not width > 0:
            raise InputError(f"width: expected a positive width multiplier, got {width}")
        self.width = float(width)
        first = int(32 * width)
        self.conv1 = nn.Conv2d(3, first, 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(first)
        for name, c_in, c_out, stride in _BLOCKS:
            self.add_module(name, DepthwiseSeparable(int(c_in * width), int(c_out * width), stride))
        features = int(1024 * width)
        self.fc_param = nn.Linear(features, PARAM_COUNT)
        self.fc_lm = nn.Linear(features, LANDMARK_VALUES) if landmark_head else None
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, 120, 120) crops → (B, 1024·width) pooled features."""
        x = torch.relu(self.bn1(self.conv1(x)))
        for name, *_ in _BLOCKS:
            x = getattr(self, name)(x)
        return x.mean((2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, 120, 120) normalised BGR crops → (B, 62) normalised parameters."""
        check_tensor("x", x, (None, 3, None, None))
        return self.fc_param(self.features(x))


def load_checkpoint(path: str | os.PathLike, *, width: float | None = None) -> MobileNetV1:
    """Load a 3DDFA_V2 MobileNet checkpoint (``mb1_120x120.pth``, ``mb05_120x120.pth`` or one in that format).

    Accepts the release layout (``state_dict`` nested in a dict, ``module.`` prefixes) and a bare state
    dict; a head named ``fc`` (3DDFA_V2's own module) is read as ``fc_param``. The width is inferred from
    ``conv1`` unless given.

    Returns:
        The network in eval mode.

    Raises:
        ModelFileError: missing file, not a weights-only checkpoint, or tensors that do not fit the network.
    """
    source = os.fspath(path)
    try:
        data = torch.load(source, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ModelFileError(f"{source}: file not found") from None
    except Exception as exc:
        raise ModelFileError(f"{source}: not a weights-only PyTorch checkpoint ({exc})") from exc
    state = data.get("state_dict", data) if isinstance(data, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelFileError(f"{source}: expected a state dict of tensors (optionally under 'state_dict')")
    clean: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        key = key.removeprefix("module.")
        if key.startswith("fc."):
            key = "fc_param." + key[3:]
        clean[key] = value
    if "conv1.weight" not in clean:
        raise ModelFileError(f"{source}: no 'conv1.weight'; not a 3DDFA_V2 MobileNet checkpoint")
    if width is None:
        width = clean["conv1.weight"].shape[0] / 32
    net = MobileNetV1(width, landmark_head="fc_lm.weight" in clean)
    try:
        net.load_state_dict(clean, strict=True)
    except RuntimeError as exc:
        raise ModelFileError(f"{source}: does not fit a MobileNet-V1 of width {width}: {exc}") from exc
    return net.eval()


def save_checkpoint(net: MobileNetV1, path: str | os.PathLike, *, epoch: int = 0) -> None:
    """Write ``net`` in 3DDFA_V2's release format (``{"epoch", "state_dict"}`` with ``module.`` prefixes)."""
    state = OrderedDict(("module." + k, v.detach().cpu()) for k, v in net.state_dict().items())
    publish.write_file(path, lambda tmp: torch.save({"epoch": epoch, "state_dict": state}, tmp))


@torch.no_grad()
def regress_params(net: MobileNetV1, images: torch.Tensor, roi_box: torch.Tensor, stats: ParamStats) -> torch.Tensor:
    """3DDFA_V2's parameters of the faces in ``roi_box``: crop, run the network, de-normalise.

    Args:
        net: the regressor (in eval mode).
        images: (B, 3, H, W) RGB in [0, 1].
        roi_box: (B, 4) crop boxes (:func:`~.params.roi_box_from_bbox`).
        stats: the 62-vector's mean and std.

    Returns:
        (B, 62) parameters (pass them to :func:`~.params.from_3ddfa_params`).
    """
    crops = crop_images(images, roi_box, CROP_SIZE)
    return stats.denormalize(net(crops.to(next(net.parameters()).dtype)))
