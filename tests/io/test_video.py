import re
import subprocess
import time

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from tfvsdk import InputError, OutputError
from tfvsdk import io


def noise_frames(n, h=48, w=64, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(n)]


def write_video(path, frames, fps=10):
    with io.VideoWriter(path, fps=fps) as writer:
        for f in frames:
            writer.write(f)
    return path


def test_a_video_round_trips_frame_by_frame(tmp_path):
    frames = [np.full((33, 47, 3), 8 * i, np.uint8) for i in range(20)]
    path = write_video(tmp_path / "clip.mp4", frames, fps=12.5)
    info = io.probe(path)
    assert (info.fps, info.n_frames, info.size, info.is_image) == (12.5, 20, (34, 48), False)
    decoded = list(io.iter_frames(path))
    assert len(decoded) == 20
    assert all(abs(int(d[:33, :47].mean()) - 8 * i) <= 2 for i, d in enumerate(decoded))


def test_an_image_is_a_one_frame_source(tmp_path):
    io.write_image(tmp_path / "face.png", noise_frames(1)[0])
    info = io.probe(tmp_path / "face.png")
    assert info.is_image and info.n_frames == 1
    (frame,) = io.iter_frames(tmp_path / "face.png")
    assert frame.shape == (48, 64, 3)


def test_a_phone_photo_stored_sideways_is_read_upright(tmp_path):
    """Cameras store a portrait photo as landscape pixels with an EXIF orientation tag (6: turn 90° clockwise
    to view); read as stored, the face lies on its side and no detector finds it."""
    upright = np.zeros((40, 24, 3), np.uint8)
    upright[:8] = (250, 30, 30)  # a red band at the top
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(np.rot90(upright)).save(tmp_path / "portrait.jpg", exif=exif.tobytes(), quality=95)
    (frame,) = io.iter_frames(tmp_path / "portrait.jpg")
    assert frame.shape == (40, 24, 3)
    assert frame[:6, :, 0].mean() > 200 and frame[-6:, :, 0].mean() < 30


def test_a_phone_video_with_a_rotation_tag_is_read_upright_without_a_warning(tmp_path, caplog):
    frame = np.zeros((48, 64, 3), np.uint8)
    frame[:10] = (250, 30, 30)  # a red band at the top of the stored frames
    stored = write_video(tmp_path / "stored.mp4", [frame] * 3)
    tagged = tmp_path / "portrait.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-display_rotation", "90", "-i", str(stored),
                    "-c", "copy", str(tagged)], check=True)
    with caplog.at_level("WARNING"):
        frames = list(io.iter_frames(tagged))
    assert io.probe(tagged).size == (64, 48) and frames[0].shape == (64, 48, 3)
    assert frames[0][:, :6, 0].mean() > 200  # turned a quarter anticlockwise: the band is on the left
    assert not [r for r in caplog.records if r.levelname == "WARNING"]


@pytest.mark.parametrize("mode", ["LA", "P", "CMYK", "I;16"])
def test_grey_with_alpha_palette_cmyk_and_16_bit_images_are_read_as_rgb(tmp_path, mode):
    columns, rows = np.meshgrid(np.arange(32) * 8, np.arange(16) * 16)
    rgb = np.stack([columns, rows, np.full_like(rows, 99)], -1).astype(np.uint8)
    if mode == "I;16":  # 16-bit grey: its values scaled to 8 bits
        image = Image.fromarray(np.asarray(Image.fromarray(rgb).convert("L")).astype(np.uint16) * 257)
        expected = np.repeat(np.asarray(Image.fromarray(rgb).convert("L"))[..., None], 3, -1)
    else:
        image = Image.fromarray(rgb).convert(mode)
        expected = np.asarray(image.convert("RGB"))
    path = tmp_path / ("face.jpg" if mode == "CMYK" else "face.png")
    image.save(path, **({"quality": 100} if mode == "CMYK" else {}))
    (frame,) = io.iter_frames(path)
    assert frame.dtype == np.uint8 and frame.shape == (16, 32, 3) and frame.flags.writeable
    assert np.abs(frame.astype(int) - expected).max() <= 1


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.mp4", None, "missing.mp4: file not found"),
        ("empty.mp4", b"", "empty.mp4: file is empty"),
        ("notes.mp4", b"these are not frames\n" * 20, "notes.mp4: not a readable video"),
        ("broken.png", b"\x89PNG\r\n\x1a\n garbage", "broken.png: not a readable image"),
    ],
)
def test_bad_files_are_named_in_the_error(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        list(io.iter_frames(path))


def test_a_truncated_video_is_an_error_not_a_short_video(tmp_path):
    path = write_video(tmp_path / "full.mp4", noise_frames(60))
    data = path.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.9)])
    with pytest.raises(InputError, match="cut.mp4: (truncated video|not a readable video|decoding failed)"):
        list(io.iter_frames(cut))


def test_an_interrupted_write_leaves_no_file_behind(tmp_path):
    out = tmp_path / "out.mp4"
    with pytest.raises(KeyboardInterrupt):
        with io.VideoWriter(out, fps=10) as writer:
            writer.write(noise_frames(1)[0])
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_an_existing_output_or_an_input_is_never_overwritten(tmp_path):
    existing = tmp_path / "out.mp4"
    existing.write_bytes(b"keep me")
    with pytest.raises(InputError, match="out.mp4: already exists"):
        io.check_output(existing)
    assert io.check_output(existing, overwrite=True) == existing
    with pytest.raises(InputError, match="would overwrite an input"):
        io.check_output(existing, overwrite=True, inputs=(existing,))
    assert existing.read_bytes() == b"keep me"


def test_tensor_conversion_round_trips():
    frames = noise_frames(2)
    t = io.to_tensor(frames)
    assert t.shape == (2, 3, 48, 64) and 0 <= t.min() and t.max() <= 1
    assert np.array_equal(io.to_uint8(t), np.stack(frames))


def test_the_audio_of_another_file_is_kept_and_its_picture_ignored(tmp_path, with_audio):
    assert io.probe(with_audio).has_audio
    out = write_video_with_audio(tmp_path / "out.mp4", noise_frames(20), with_audio)
    info = io.probe(out)
    assert info.has_audio and info.size == (48, 64) and info.n_frames == 20


@pytest.mark.parametrize("seconds_of_sound", [1, 3])
def test_with_the_frame_count_known_the_sound_lasts_exactly_as_long_as_the_picture(tmp_path, seconds_of_sound):
    """Frames written slowly (as an edit writes them): ``-shortest`` let the sound run on by up to 0.3 s, so
    the container announced 23 frames for 20; with ``frames`` the sound is cut or padded to 2 s."""
    source = tmp_path / "sound.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-f", "lavfi",
                    "-i", "sine=frequency=440", "-t", str(seconds_of_sound), "-pix_fmt", "yuv420p", str(source)], check=True)
    out = write_video_with_audio(tmp_path / "out.mp4", noise_frames(20), source, pause=0.05)
    assert io.probe(out).n_frames == 20
    log = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(out), "-map", "0:a:0", "-c", "copy", "-f", "null", "-"],
                         stderr=subprocess.PIPE, text=True).stderr
    assert re.findall(r"time=(\S+)", log)[-1] == "00:00:02.00"


def test_a_writer_refuses_more_or_fewer_frames_than_announced(tmp_path):
    with io.VideoWriter(tmp_path / "out.mp4", fps=10, frames=2) as writer:
        writer.write(noise_frames(1)[0])
        writer.write(noise_frames(1)[0])
        with pytest.raises(InputError, match="all 2 frames"):
            writer.write(noise_frames(1)[0])
    with pytest.raises(OutputError, match="1 of the 2 frames"):
        with io.VideoWriter(tmp_path / "short.mp4", fps=10, frames=2) as writer:
            writer.write(noise_frames(1)[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


def write_video_with_audio(path, frames, audio_from, pause=0.0):
    with io.VideoWriter(path, fps=10, audio_from=audio_from, frames=len(frames)) as writer:
        for f in frames:
            writer.write(f)
            time.sleep(pause)
    return path
