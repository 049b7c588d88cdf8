"""Tests for the IDX reader and the MNIST / Fashion-MNIST loaders, downloads included.

Downloads are tested against a local HTTP server and ``file://`` URLs serving
small IDX files written here; nothing touches the network. Real MNIST is used
only when ``FUNCNN_DATA`` points at a folder with an ``mnist/`` subfolder.
"""

import functools
import gzip
import hashlib
import http.server
import os
import pathlib
import socket
import sys
import threading

import numpy as np
import pytest

from funcnn import data
from funcnn.data import _download, _mnist

FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


# --------------------------------------------------------------------------- helpers


def idx_bytes(arr, type_byte=0x08, magic=None):
    """The IDX encoding of ``arr`` (big-endian), optionally with a forced magic number."""
    head = bytes([0, 0, type_byte, arr.ndim]) if magic is None else magic.to_bytes(4, "big")
    dims = b"".join(int(n).to_bytes(4, "big") for n in arr.shape)
    return head + dims + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def write(path, payload, compress):
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(payload) if compress else payload)
    return path


def fake_dataset(folder, n_train=6, n_test=4, compress=True, seed=0):
    """Write the four IDX files of a tiny MNIST-like set; return the arrays written."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for name, arr in arrays.items():
        write(os.path.join(folder, name + (".gz" if compress else "")), idx_bytes(arr), compress)
    return arrays


@pytest.fixture
def isolated_env(tmp_path, monkeypatch):
    """No FUNCNN_DATA, and a cache folder inside tmp_path (on every platform)."""
    monkeypatch.delenv("FUNCNN_DATA", raising=False)
    monkeypatch.setenv("FUNCNN_CACHE", str(tmp_path / "cache" / "funcnn"))
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(var, "127.0.0.1,localhost")
    return tmp_path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


class _TruncatingHandler(_QuietHandler):
    """Announces the full length of a file but sends only half of it, then hangs up."""

    def do_GET(self):
        payload = pathlib.Path(self.directory, self.path.lstrip("/")).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload[: len(payload) // 2])
        self.close_connection = True


@pytest.fixture
def serve():
    """Start HTTP servers on 127.0.0.1 for folders; return their base URLs; stop them after."""
    running = []

    def start(folder, handler=_QuietHandler):
        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(handler, directory=str(folder))
        )
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        running.append((server, thread))
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server, thread in running:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def dead_url():
    """A URL on a local port that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def spec_for(folder, title="MNIST", subfolder="mnist"):
    """A dataset description whose checksums match the fake files in ``folder``."""

    def remote(name, algorithm):
        digest = hashlib.new(algorithm, (folder / name).read_bytes()).hexdigest()
        return _download.RemoteFile(name, algorithm, digest)

    return _mnist._Dataset(
        title,
        subfolder,
        remote(FILES[0], "sha256"),
        remote(FILES[1], "sha256"),
        remote(FILES[2], "md5"),
        remote(FILES[3], "sha256"),
    )


def leftovers(folder):
    return sorted(p.name for p in pathlib.Path(folder).iterdir()) if pathlib.Path(folder).exists() else []


# --------------------------------------------------------------------------- read_idx


@pytest.mark.parametrize(
    "dtype, type_byte",
    [
        (np.uint8, 0x08),
        (np.int8, 0x09),
        (np.int16, 0x0B),
        (np.int32, 0x0C),
        (np.float32, 0x0D),
        (np.float64, 0x0E),
    ],
)
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trips_every_type(tmp_path, dtype, type_byte, compress):
    arr = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    path = write(tmp_path / "x.idx", idx_bytes(arr, type_byte), compress)
    got = data.read_idx(path)
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    np.testing.assert_array_equal(got, arr)
    got[0, 0, 0] = 1  # writable, not a view of the file's bytes


def test_read_idx_checks_the_magic_number(tmp_path):
    labels = write(tmp_path / "labels", idx_bytes(np.arange(3, dtype=np.uint8)), False)
    assert data.read_idx(labels, expect_magic=2049).tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match=r"labels: wrong magic number 2049 .*expected 2051"):
        data.read_idx(labels, expect_magic=2051)


@pytest.mark.parametrize(
    "payload, match",
    [
        (b"", "only 0 bytes"),
        (b"\x00\x00", "only 2 bytes"),
        (b"\x01\x00\x08\x01" + (3).to_bytes(4, "big") + b"abc", "first two bytes must be zero"),
        (b"\x00\x00\x07\x01" + (3).to_bytes(4, "big") + b"abc", "unknown IDX type byte 0x07"),
        (b"\x00\x00\x08\x03" + (3).to_bytes(4, "big"), "truncated header"),
        (b"\x00\x00\x08\x01" + (3).to_bytes(4, "big") + b"ab", "truncated data.*needs 3 bytes.*has 2"),
        (b"\x00\x00\x0c\x01" + (2).to_bytes(4, "big") + b"1234567", "truncated data.*needs 8 bytes"),
        (b"\x00\x00\x08\x01" + (3).to_bytes(4, "big") + b"abcd", "1 unexpected trailing bytes"),
    ],
)
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_rejects_malformed_files(tmp_path, payload, match, compress):
    path = write(tmp_path / "broken-idx", payload, compress)
    with pytest.raises(ValueError, match=match) as info:
        data.read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_rejects_a_cut_off_gzip_stream(tmp_path):
    arr = np.arange(5000, dtype=np.int32)
    packed = gzip.compress(idx_bytes(arr, 0x0C))
    path = tmp_path / "cut.gz"
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(ValueError, match="broken gzip data") as info:
        data.read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        data.read_idx(tmp_path / "nope")


# --------------------------------------------------------------------------- loaders on small files


@pytest.mark.parametrize("compress", [True, False])
def test_fashion_mnist_loads_small_files(tmp_path, isolated_env, compress):
    arrays = fake_dataset(tmp_path / "root" / "fashion-mnist", compress=compress)
    x_train, y_train, x_test, y_test = data.fashion_mnist(tmp_path / "root", download=False)
    assert x_train.shape == (6, 28, 28) and x_test.shape == (4, 28, 28)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert 0.0 <= x_train.min() and x_train.max() <= 1.0
    np.testing.assert_allclose(x_train * 255, arrays["train-images-idx3-ubyte"], atol=1e-4)
    np.testing.assert_array_equal(y_train, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(y_test, arrays["t10k-labels-idx1-ubyte"])


def test_loader_layouts_and_dtypes(tmp_path, isolated_env):
    arrays = fake_dataset(tmp_path / "fashion-mnist")
    flat = data.fashion_mnist(tmp_path, flatten=True, download=False)[0]
    assert flat.shape == (6, 784)
    chan = data.fashion_mnist(tmp_path, channel_axis=True, download=False)[2]
    assert chan.shape == (4, 1, 28, 28)
    raw = data.fashion_mnist(tmp_path, normalize=False, dtype=np.uint8, download=False)[0]
    np.testing.assert_array_equal(raw, arrays["train-images-idx3-ubyte"])
    wide = data.fashion_mnist(tmp_path, dtype=np.float64, download=False)[0]
    assert wide.dtype == np.float64 and wide.max() <= 1.0


def test_loader_rejects_conflicting_options(tmp_path, isolated_env):
    fake_dataset(tmp_path / "fashion-mnist")
    with pytest.raises(ValueError, match="flatten=True and channel_axis=True"):
        data.fashion_mnist(tmp_path, flatten=True, channel_axis=True)
    with pytest.raises(ValueError, match="floating dtype"):
        data.fashion_mnist(tmp_path, dtype=np.uint8)


def test_mixed_compressed_and_plain_files(tmp_path, isolated_env):
    folder = tmp_path / "mnist"
    arrays = fake_dataset(folder)
    name = "t10k-labels-idx1-ubyte"
    (folder / (name + ".gz")).unlink()
    write(folder / name, idx_bytes(arrays[name]), compress=False)
    np.testing.assert_array_equal(data.mnist(tmp_path, download=False)[3], arrays[name])


def corrupt_images_with_label_magic(folder):
    path = folder / "train-images-idx3-ubyte.gz"
    write(path, idx_bytes(np.zeros(6 * 784, np.uint8), magic=2049), True)
    return path, "wrong magic number 2049"


def corrupt_truncated_images(folder):
    path = folder / "t10k-images-idx3-ubyte.gz"
    payload = gzip.decompress(path.read_bytes())
    write(path, payload[:-100], True)
    return path, "truncated data"


def corrupt_cut_gzip(folder):
    path = folder / "train-images-idx3-ubyte.gz"
    packed = path.read_bytes()
    path.write_bytes(packed[: len(packed) - 200])
    return path, "broken gzip data"


def corrupt_label_count(folder):
    path = folder / "train-labels-idx1-ubyte.gz"
    write(path, idx_bytes(np.zeros(5, np.uint8)), True)
    return path, "has 6 images but .*train-labels-idx1-ubyte.gz has 5 labels"


def corrupt_label_value(folder):
    path = folder / "t10k-labels-idx1-ubyte.gz"
    write(path, idx_bytes(np.array([0, 1, 12, 3], np.uint8)), True)
    return path, "label 12 is outside the classes 0-9"


@pytest.mark.parametrize(
    "corrupt",
    [
        corrupt_images_with_label_magic,
        corrupt_truncated_images,
        corrupt_cut_gzip,
        corrupt_label_count,
        corrupt_label_value,
    ],
)
def test_corrupt_files_give_a_clear_error(tmp_path, isolated_env, corrupt):
    folder = tmp_path / "fashion-mnist"
    fake_dataset(folder)
    path, match = corrupt(folder)
    with pytest.raises(ValueError, match=match) as info:
        data.fashion_mnist(tmp_path, download=False)
    assert str(path) in str(info.value)


# --------------------------------------------------------------------------- where files are looked for


def test_funcnn_data_is_used_when_no_data_dir(tmp_path, isolated_env, monkeypatch):
    arrays = fake_dataset(tmp_path / "shared" / "mnist", n_train=3)
    monkeypatch.setenv("FUNCNN_DATA", str(tmp_path / "shared"))
    assert data.mnist(download=False)[0].shape == (3, 28, 28)
    np.testing.assert_array_equal(data.mnist(download=False)[1], arrays["train-labels-idx1-ubyte"])


def test_cache_is_used_without_funcnn_data(tmp_path, isolated_env):
    assert data.cache_dir() == str(tmp_path / "cache" / "funcnn")
    fake_dataset(tmp_path / "cache" / "funcnn" / "fashion-mnist", n_train=5)
    assert data.fashion_mnist(download=False)[0].shape == (5, 28, 28)


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh home folder and no cache-related environment variables."""
    for var in ("FUNCNN_CACHE", "XDG_CACHE_HOME", "LOCALAPPDATA"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("USERPROFILE", str(tmp_path))
    return str(tmp_path)


@pytest.mark.parametrize("platform", ["linux", "freebsd14"])
def test_cache_dir_defaults_to_home(monkeypatch, home, platform):
    monkeypatch.setattr(sys, "platform", platform)
    assert data.cache_dir() == os.path.join(home, ".cache", "funcnn")


def test_cache_dir_follows_xdg_only_when_absolute(monkeypatch, home):
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setenv("XDG_CACHE_HOME", os.path.join(home, "xdg"))
    assert data.cache_dir() == os.path.join(home, "xdg", "funcnn")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # the XDG spec says to ignore it
    assert data.cache_dir() == os.path.join(home, ".cache", "funcnn")


def test_cache_dir_on_macos(monkeypatch, home):
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setenv("XDG_CACHE_HOME", os.path.join(home, "xdg"))  # not a macOS convention
    assert data.cache_dir() == os.path.join(home, "Library", "Caches", "funcnn")


def test_cache_dir_on_windows(monkeypatch, home):
    monkeypatch.setattr(sys, "platform", "win32")
    assert data.cache_dir() == os.path.join(home, "AppData", "Local", "funcnn", "Cache")
    monkeypatch.setenv("LOCALAPPDATA", os.path.join(home, "Local"))
    assert data.cache_dir() == os.path.join(home, "Local", "funcnn", "Cache")


@pytest.mark.parametrize("platform", ["linux", "darwin", "win32"])
def test_funcnn_cache_overrides_the_platform_folder(monkeypatch, home, platform):
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setenv("XDG_CACHE_HOME", os.path.join(home, "xdg"))
    monkeypatch.setenv("FUNCNN_CACHE", os.path.join(home, "mine"))
    assert data.cache_dir() == os.path.join(home, "mine")
    monkeypatch.setenv("FUNCNN_CACHE", os.path.join("~", "tilde"))
    assert data.cache_dir() == os.path.join(home, "tilde")
    monkeypatch.setenv("FUNCNN_CACHE", "")  # empty: as if unset
    assert data.cache_dir() != ""


def test_funcnn_cache_is_where_downloads_go(tmp_path, isolated_env, monkeypatch):
    fake_dataset(tmp_path / "remote")
    monkeypatch.setattr(_mnist, "_MNIST", spec_for(tmp_path / "remote"))
    monkeypatch.setenv("FUNCNN_CACHE", str(tmp_path / "elsewhere"))
    data.mnist(mirrors=((tmp_path / "remote").as_uri(),))
    assert leftovers(tmp_path / "elsewhere" / "mnist") == sorted(FILES)


def test_each_file_falls_back_from_funcnn_data_to_cache(tmp_path, isolated_env, monkeypatch):
    shared = tmp_path / "shared" / "fashion-mnist"
    fake_dataset(shared, n_train=3)
    (shared / "train-images-idx3-ubyte.gz").unlink()
    cached = tmp_path / "cache" / "funcnn" / "fashion-mnist"
    write(cached / "train-images-idx3-ubyte.gz", idx_bytes(np.zeros((3, 28, 28), np.uint8)), True)
    monkeypatch.setenv("FUNCNN_DATA", str(tmp_path / "shared"))
    x_train, y_train, _, _ = data.fashion_mnist(download=False)
    assert x_train.shape == (3, 28, 28) and float(x_train.max()) == 0.0


def test_data_dir_overrides_funcnn_data(tmp_path, isolated_env, monkeypatch):
    fake_dataset(tmp_path / "shared" / "mnist", n_train=3)
    fake_dataset(tmp_path / "mine" / "mnist", n_train=2)
    monkeypatch.setenv("FUNCNN_DATA", str(tmp_path / "shared"))
    assert len(data.mnist(tmp_path / "mine", download=False)[1]) == 2


def test_missing_files_without_download_say_what_to_do(tmp_path, isolated_env):
    fake_dataset(tmp_path / "fashion-mnist")
    (tmp_path / "fashion-mnist" / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError) as info:
        data.fashion_mnist(tmp_path, download=False)
    message = str(info.value)
    assert "t10k-images-idx3-ubyte.gz" in message and "train-images" not in message
    assert str(tmp_path / "fashion-mnist") in message
    assert "download=False" in message
    assert "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/t10k-images-idx3-ubyte.gz" in message


# --------------------------------------------------------------------------- downloads


def test_download_over_http_into_the_cache(tmp_path, isolated_env, serve, monkeypatch):
    arrays = fake_dataset(tmp_path / "remote")
    monkeypatch.setattr(_mnist, "_MNIST", spec_for(tmp_path / "remote"))
    url = serve(tmp_path / "remote")
    x_train, y_train, _, _ = data.mnist(mirrors=(url,))
    np.testing.assert_array_equal(y_train, arrays["train-labels-idx1-ubyte"])
    cached = tmp_path / "cache" / "funcnn" / "mnist"
    assert leftovers(cached) == sorted(FILES)
    # the second call finds the files in the cache, so a dead mirror does not matter
    data.mnist(mirrors=("http://127.0.0.1:9/",), download=False)


def test_download_from_file_urls_into_data_dir(tmp_path, isolated_env, monkeypatch):
    fake_dataset(tmp_path / "remote")
    spec = spec_for(tmp_path / "remote", "Fashion-MNIST", "fashion-mnist")
    monkeypatch.setattr(_mnist, "_FASHION_MNIST", spec)
    x_train = data.fashion_mnist(tmp_path / "root", mirrors=[(tmp_path / "remote").as_uri()])[0]
    assert x_train.shape == (6, 28, 28)
    assert leftovers(tmp_path / "root" / "fashion-mnist") == sorted(FILES)


def test_download_falls_back_to_the_next_mirror(tmp_path, isolated_env, serve, dead_url, monkeypatch):
    fake_dataset(tmp_path / "remote")
    (tmp_path / "empty").mkdir()
    monkeypatch.setattr(_mnist, "_MNIST", spec_for(tmp_path / "remote"))
    mirrors = (dead_url, serve(tmp_path / "empty"), serve(tmp_path / "remote"))  # refused, 404, good
    assert data.mnist(mirrors=mirrors)[0].shape == (6, 28, 28)


def test_checksum_mismatch_is_never_kept(tmp_path, isolated_env, serve):
    fake_dataset(tmp_path / "remote")  # right names, but not the real MNIST bytes
    url = serve(tmp_path / "remote")
    with pytest.raises(FileNotFoundError) as info:
        data.mnist(mirrors=(url,))
    message = str(info.value)
    assert "sha256 checksum mismatch" in message
    assert all(name in message for name in FILES)
    assert leftovers(tmp_path / "cache" / "funcnn" / "mnist") == []


def test_md5_checked_fashion_images_mismatch(tmp_path, isolated_env):
    fake_dataset(tmp_path / "remote")
    with pytest.raises(FileNotFoundError, match="md5 checksum mismatch"):
        data.fashion_mnist(tmp_path / "root", mirrors=((tmp_path / "remote").as_uri(),))
    assert leftovers(tmp_path / "root" / "fashion-mnist") == []


def test_partial_download_is_discarded(tmp_path, isolated_env, serve, monkeypatch):
    fake_dataset(tmp_path / "remote")
    monkeypatch.setattr(_mnist, "_MNIST", spec_for(tmp_path / "remote"))
    url = serve(tmp_path / "remote", _TruncatingHandler)
    with pytest.raises(FileNotFoundError, match=r"incomplete download: received \d+ of the \d+ bytes"):
        data.mnist(mirrors=(url,))
    assert leftovers(tmp_path / "cache" / "funcnn" / "mnist") == []


def test_truncated_body_without_length_fails_the_checksum(tmp_path, isolated_env):
    fake_dataset(tmp_path / "remote")
    spec = spec_for(tmp_path / "remote")
    name = FILES[1]
    packed = (tmp_path / "remote" / name).read_bytes()
    (tmp_path / "remote" / name).write_bytes(packed[:-10])
    dest = tmp_path / "dl" / name
    with pytest.raises(ValueError, match="checksum mismatch"):
        _download.download_verified(
            (tmp_path / "remote" / name).as_uri(), str(dest), "sha256", spec.train_labels.digest
        )
    assert leftovers(tmp_path / "dl") == []


def test_interrupted_download_leaves_nothing(tmp_path, isolated_env, monkeypatch):
    fake_dataset(tmp_path / "remote")
    name = FILES[1]

    def fail(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(_download.os, "fsync", fail)
    with pytest.raises(KeyboardInterrupt):
        _download.download_verified(
            (tmp_path / "remote" / name).as_uri(), str(tmp_path / "dl" / name), "sha256", "0" * 64
        )
    assert leftovers(tmp_path / "dl") == []


def test_offline_error_says_which_files_go_where(tmp_path, isolated_env, dead_url):
    with pytest.raises(FileNotFoundError) as info:
        data.mnist(mirrors=(dead_url,))
    message = str(info.value)
    folder = str(tmp_path / "cache" / "funcnn" / "mnist")
    assert f"put the original files into {folder}" in message
    for name in FILES:
        assert dead_url + name in message
    # an unreachable mirror is tried once, not once per file
    assert message.count("URLError") == 1 and "mirror skipped from now on" in message


def test_default_mirrors():
    assert data.MNIST_MIRRORS == (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    )
    assert data.FASHION_MNIST_MIRRORS == ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)


# --------------------------------------------------------------------------- real data (FUNCNN_DATA)

DATA_ROOT = os.environ.get("FUNCNN_DATA")
needs_mnist = pytest.mark.skipif(
    not (DATA_ROOT and os.path.isdir(os.path.join(DATA_ROOT, "mnist"))),
    reason="set FUNCNN_DATA to a folder with an mnist/ subfolder to test real MNIST",
)


def real_fashion_missing():
    if not DATA_ROOT:
        return "FUNCNN_DATA is not set"
    folder = os.path.join(DATA_ROOT, "fashion-mnist")
    absent = [n for n in FILES if not os.path.isfile(os.path.join(folder, n))]
    return f"missing from $FUNCNN_DATA/fashion-mnist: {', '.join(absent)}" if absent else ""


def sha_matches(spec, folder):
    for remote in spec.files:
        path = os.path.join(folder, remote.filename)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                assert hashlib.new(remote.algorithm, f.read()).hexdigest() == remote.digest, path


@needs_mnist
def test_real_mnist_files_match_the_published_checksums():
    sha_matches(_mnist._MNIST, os.path.join(DATA_ROOT, "mnist"))


@needs_mnist
@pytest.mark.slow
def test_real_mnist(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # never download into the user's cache
    x_train, y_train, x_test, y_test = data.mnist(download=False)
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == np.float32 and y_train.dtype == y_test.dtype == np.int64
    assert float(x_train.min()) == 0.0 and float(x_train.max()) == 1.0
    assert np.bincount(y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    flat = data.mnist(DATA_ROOT, flatten=True, download=False)[2]
    assert flat.shape == (10000, 784)
    np.testing.assert_array_equal(flat.reshape(10000, 28, 28), x_test)


@pytest.mark.skipif(not DATA_ROOT or not os.path.isdir(os.path.join(DATA_ROOT, "fashion-mnist")),
                    reason="set FUNCNN_DATA to a folder with a fashion-mnist/ subfolder")
def test_real_fashion_mnist_label_files():
    folder = os.path.join(DATA_ROOT, "fashion-mnist")
    sha_matches(_mnist._FASHION_MNIST, folder)
    for name, n in (("train-labels-idx1-ubyte.gz", 60000), ("t10k-labels-idx1-ubyte.gz", 10000)):
        labels = data.read_idx(os.path.join(folder, name), expect_magic=2049)
        assert np.bincount(labels).tolist() == [n // 10] * 10


@pytest.mark.slow
def test_real_fashion_mnist(monkeypatch, tmp_path):
    reason = real_fashion_missing()
    if reason:
        pytest.skip(reason)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    x_train, y_train, x_test, y_test = data.fashion_mnist(download=False, channel_axis=True)
    assert x_train.shape == (60000, 1, 28, 28) and x_test.shape == (10000, 1, 28, 28)
    assert float(x_train.max()) == 1.0
    assert np.bincount(y_train).tolist() == [6000] * 10
