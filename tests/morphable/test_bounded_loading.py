"""Small model files that ask for a lot of memory are refused before it is allocated."""

import io
import pickle
import struct
import zipfile
import zlib

import numpy as np
import pytest

from tfvsdk import ModelFileError
from tfvsdk.morphable import load_npz, load_numpy_pickle
from tfvsdk.morphable.safe_npz import load_npz_arrays


def zeros_npz_bomb(path, n_blocks, block=1 << 24):
    """An npz whose member ``mean.npy`` inflates to ``n_blocks`` × 16 MiB of zeros, written as a zip by hand:
    one block is deflated once (full flush: the compressed bytes do not depend on what came before) and
    repeated, so a ~1 MB file stands for over a gigabyte without compressing it all."""
    header = np.lib.format.header_data_from_array_1_0(np.zeros(0, np.float32))
    header["shape"] = ((n_blocks * block) // 4,)
    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(head, header)
    head = head.getvalue()
    zeros = bytes(block)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = compressor.compress(head + zeros[len(head):]) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeated = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    last = compressor.flush(zlib.Z_FINISH)
    crc = zlib.crc32(head + zeros[len(head):])
    for _ in range(n_blocks - 1):
        crc = zlib.crc32(zeros, crc)
    data_size = len(first) + (n_blocks - 1) * len(repeated) + len(last)
    name = b"mean.npy"
    fields = struct.pack("<HHHHHIII", 20, 0, 8, 0, 0x21, crc, data_size, n_blocks * block)
    with open(path, "wb") as f:
        f.write(b"PK\x03\x04" + fields + struct.pack("<HH", len(name), 0) + name)
        f.write(first)
        for _ in range(n_blocks - 1):
            f.write(repeated)
        f.write(last)
        directory = f.tell()
        f.write(b"PK\x01\x02" + struct.pack("<H", 20) + fields + struct.pack("<HHHHHII", len(name), 0, 0, 0, 0, 0, 0) + name)
        size = f.tell() - directory
        f.write(b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, 1, 1, size, directory, 0))
    return path


def test_an_npz_zip_bomb_is_refused_before_it_inflates(tmp_path, peak_added_mib):
    bomb = zeros_npz_bomb(tmp_path / "bomb.npz", 82)  # 1.38 GB
    assert bomb.stat().st_size < 2_000_000
    with zipfile.ZipFile(bomb) as archive, archive.open("mean.npy") as member:
        assert archive.getinfo("mean.npy").file_size == 82 << 24
        assert len(member.read(1 << 22)) == 1 << 22  # a valid archive: the member inflates
    grown, error = peak_added_mib("from tfvsdk.morphable import load_npz", f"load_npz({str(bomb)!r})")
    assert error.startswith("ModelFileError") and "bomb.npz" in error and "MiB of memory" in error
    assert grown < 200


def test_an_npy_header_larger_than_its_data_is_refused(tmp_path):
    header = np.lib.format.header_data_from_array_1_0(np.zeros(0, np.float64))
    header["shape"] = (2**40,)
    with zipfile.ZipFile(tmp_path / "liar.npz", "w") as archive:
        with archive.open("mean.npy", "w") as member:
            np.lib.format.write_array_header_1_0(member, header)
            member.write(bytes(64))
    with pytest.raises(ModelFileError, match=r"liar\.npz: member 'mean' announces an array of 8796093022208 bytes but holds"):
        load_npz(tmp_path / "liar.npz")


def test_object_arrays_and_non_npz_files_are_refused(tmp_path):
    np.savez(tmp_path / "objects.npz", names=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ModelFileError, match="holds Python objects"):
        load_npz_arrays(tmp_path / "objects.npz")
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(ModelFileError, match=r"text\.npz: not a readable npz archive"):
        load_npz_arrays(tmp_path / "text.npz")


def test_an_honest_npz_reads_back(tmp_path):
    arrays = {"mean": np.arange(12, dtype=np.float32), "tri": np.arange(6).reshape(2, 3)}
    np.savez_compressed(tmp_path / "m.npz", **arrays)
    back = load_npz_arrays(tmp_path / "m.npz")
    assert all(np.array_equal(back[k], v) for k, v in arrays.items())
    with pytest.raises(ModelFileError, match="more than 0 MiB"):
        load_npz_arrays(tmp_path / "m.npz", max_bytes=32)


class HugeArray:
    def __reduce__(self):
        return (np.ndarray, ((2**50,), "u1"))


class HugeReconstruct:
    def __reduce__(self):
        return (np._core.multiarray._reconstruct, (np.ndarray, (2**40,), "u1"))


class HugeDtype:
    def __reduce__(self):
        return (np.dtype, (("u1", (1 << 15, 1 << 15)),))


@pytest.mark.parametrize("bomb", [HugeArray(), HugeReconstruct(), HugeDtype()], ids=["ndarray", "reconstruct", "dtype"])
def test_a_tiny_pickle_asking_for_a_huge_array_is_refused(tmp_path, peak_added_mib, bomb):
    path = tmp_path / "bomb.pkl"
    path.write_bytes(pickle.dumps(bomb, protocol=2))
    assert path.stat().st_size < 100
    grown, error = peak_added_mib("from tfvsdk.morphable import load_numpy_pickle", f"load_numpy_pickle({str(path)!r})")
    assert error.startswith("ModelFileError: ") and "more than a file of" in error, error
    assert grown < 200


def test_numpy_pickles_of_every_protocol_still_load(tmp_path):
    data = {"a": np.arange(5.0), "t": np.zeros((3, 4), np.int64).T, "s": np.float32(2), "d": np.dtype("f4"), "u": np.array(["x", "yy"])}
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        (tmp_path / "p.pkl").write_bytes(pickle.dumps(data, protocol=protocol))
        back = load_numpy_pickle(tmp_path / "p.pkl")
        assert all(np.array_equal(back[k], data[k]) for k in ("a", "t", "u")), protocol
        assert back["s"] == 2 and back["d"] == np.dtype("f4")
