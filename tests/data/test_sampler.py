"""The DTSS sampler (paper §3.1): image/video fractions, sample structure, determinism, resuming, sharding."""

from __future__ import annotations

import math

import pytest
import torch

from tfvsdk.data import ROLES, DTSSSampler, ImageFolder, SampleDataset, VideoFolder, collate
from tfvsdk.errors import InputError


def binomial_interval(n: int, p: float, confidence: float = 0.999) -> tuple[int, int]:
    """Exact central interval [lo, hi] holding ≥ ``confidence`` of Binomial(n, p)."""
    if p in (0.0, 1.0):
        return (int(n * p), int(n * p))
    log_pmf = [math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * math.log(p) + (n - k) * math.log1p(-p) for k in range(n + 1)]
    pmf = [math.exp(v) for v in log_pmf]
    tail = (1 - confidence) / 2
    lo, acc = 0, 0.0
    while acc + pmf[lo] <= tail:
        acc += pmf[lo]
        lo += 1
    hi, acc = n, 0.0
    while acc + pmf[hi] <= tail:
        acc += pmf[hi]
        hi -= 1
    return lo, hi


@pytest.fixture(scope="module")
def parts(tiny_dataset):
    return ImageFolder(tiny_dataset), VideoFolder(tiny_dataset)


@pytest.mark.parametrize("sigma", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_fraction_of_image_samples_is_sigma(parts, sigma):
    sampler = DTSSSampler(*parts, sigma=sigma, seed=3)
    n = 10_000
    images = sum(not sampler.draw(i).is_video for i in range(n))
    lo, hi = binomial_interval(n, sigma)
    assert lo <= images <= hi, f"{images} image samples of {n}, expected within [{lo}, {hi}] for sigma={sigma}"


def test_image_samples_have_three_identities_and_equal_times(parts):
    images, _ = parts
    sampler = DTSSSampler(*parts, sigma=1.0, seed=1)
    for i in range(500):
        spec = sampler.draw(i)
        assert not spec.is_video
        identities = {images.entries[spec.role(r)[1].index].identity for r in ROLES}
        assert len(identities) == 3
        for role in ROLES:
            prev, cur = spec.role(role)
            assert prev == cur and cur.part == "image"


def test_video_samples_are_consecutive_frames_of_one_clip(parts):
    _, videos = parts
    sampler = DTSSSampler(*parts, sigma=0.0, seed=1)
    seen_t = set()
    for i in range(500):
        spec = sampler.draw(i)
        assert spec.is_video
        clips = {ref.index for role in ROLES for ref in spec.role(role)}
        assert len(clips) == 1
        identities = {videos.clips[c].identity for c in clips}
        assert len(identities) == 1
        for role in ROLES:
            prev, cur = spec.role(role)
            assert prev.part == cur.part == "video"
            assert cur.frame == prev.frame + 1
            assert 0 <= prev.frame and cur.frame < videos.num_frames(cur.index)
            seen_t.add(cur.frame)
        assert spec.identity == spec.pose == spec.expression  # the self-supervised reading of eq. 7
    assert seen_t == {1, 2, 3, 4}


def test_same_seed_same_stream_and_resume_continues_it(parts):
    a = DTSSSampler(*parts, sigma=0.5, seed=7)
    first = [next(iter(a)) for _ in range(20)]
    state = a.state_dict()
    rest = [next(iter(a)) for _ in range(20)]
    b = DTSSSampler(*parts, sigma=0.5, seed=7)
    b.load_state_dict(state)
    assert [next(iter(b)) for _ in range(20)] == rest
    c = DTSSSampler(*parts, sigma=0.5, seed=8)
    assert [c.draw(i) for i in range(20)] != first


def test_state_of_another_seed_is_refused(parts):
    state = DTSSSampler(*parts, sigma=0.5, seed=7).state_dict()
    with pytest.raises(InputError, match="seed"):
        DTSSSampler(*parts, sigma=0.5, seed=8).load_state_dict(state)


def test_ranks_draw_from_disjoint_shards(parts):
    images, videos = parts
    seen = []
    for rank in range(2):
        sampler = DTSSSampler(images, videos, sigma=0.5, seed=0, rank=rank, world_size=2)
        ids, clips = set(), set()
        for i in range(300):
            spec = sampler.draw(i)
            for role in ROLES:
                ref = spec.role(role)[1]
                if ref.part == "image":
                    ids.add(images.entries[ref.index].identity)
                else:
                    clips.add(ref.index)
        seen.append((ids, clips))
    assert seen[0][0].isdisjoint(seen[1][0]) and seen[0][1].isdisjoint(seen[1][1])
    assert len(seen[0][0] | seen[1][0]) == len(images.identities)
    assert seen[0][1] | seen[1][1] == set(range(len(videos)))


def test_missing_data_for_sigma_is_a_clear_error(parts):
    images, videos = parts
    with pytest.raises(InputError, match="video samples"):
        DTSSSampler(images, None, sigma=0.5)
    with pytest.raises(InputError, match="3 different identities"):
        DTSSSampler(None, videos, sigma=0.5)
    with pytest.raises(InputError, match="identities in the shard"):
        DTSSSampler(images, videos, sigma=0.5, rank=0, world_size=3)
    with pytest.raises(InputError, match="sigma"):
        DTSSSampler(images, videos, sigma=1.5)
    DTSSSampler(images, None, sigma=1.0)
    DTSSSampler(None, videos, sigma=0.0)


def test_a_batch_loads_frames_and_fits(parts):
    images, videos = parts
    sampler = DTSSSampler(images, videos, sigma=0.5, seed=2)
    loader = torch.utils.data.DataLoader(SampleDataset(images, videos), batch_sampler=sampler.batches(6), collate_fn=collate)
    batch = next(iter(loader))
    assert batch.batch_size == 6
    assert batch.is_video.tolist() == [s.is_video for s in batch.specs]
    for role in ROLES:
        frames = batch.role(role)
        assert frames.cur.shape == frames.prev.shape == (6, 3, 8, 8)
        assert frames.fit_cur.batch_size == 6 and frames.fit_cur.alpha_id.shape == (6, 4)
    spec = batch.specs[0]
    ref = spec.identity[1]
    expected = images.image(ref.index) if ref.part == "image" else videos.frame(ref.index, ref.frame)
    assert torch.equal(batch.identity.cur[0], expected)
    whole = images.fit(ref.index) if ref.part == "image" else videos.fits(ref.index)
    assert torch.equal(batch.source(0, ref).alpha_exp, whole.alpha_exp), "the whole source's fits, for the composer's prepare"
    assert torch.equal(batch.source(0, ref).alpha_exp[ref.frame], batch.identity.fit_cur.alpha_exp[0])


def test_still_clips_make_images_single_frame_video_samples(parts):
    images, videos = parts
    sampler = DTSSSampler(images, None, sigma=0.0, seed=5, still_clips=True)
    for i in range(200):
        spec = sampler.draw(i)
        assert spec.is_video and spec.identity == spec.pose == spec.expression
        prev, cur = spec.identity
        assert prev == cur and cur.part == "image"
    mixed = DTSSSampler(images, videos, sigma=0.0, seed=5, still_clips=True)
    parts_seen = {mixed.draw(i).identity[1].part for i in range(300)}
    assert parts_seen == {"image", "video"}
