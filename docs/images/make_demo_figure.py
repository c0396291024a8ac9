"""docs/images/demo_contact_sheet.png and the report shown in docs/editing.md: ``python docs/images/make_demo_figure.py``."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import imageio.v3 as iio
import torch
import torch.nn.functional as F

from tfvsdk.demo import run_demo

HERE = Path(__file__).resolve().parent


def main() -> None:
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        report = run_demo(tmp)
        sheet = iio.imread(Path(tmp) / "contact_sheet.png")
    small = F.interpolate(torch.from_numpy(sheet).permute(2, 0, 1)[None].float(), scale_factor=0.7, mode="area")
    iio.imwrite(HERE / "demo_contact_sheet.png", small[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy())
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
