"""Tests for hpopt.datasets: every built-in reader on tiny files in the publishers' layouts,
the custom loaders, splitting, text encoding and the offline errors.

Offline by construction: HYPEROPT_OFFLINE=1 and KERAS_HOME points into tmp_path, so no
test reads the real Keras cache or touches the network.
"""

from __future__ import annotations

import csv
import gzip
import pickle
import struct
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hpopt.datasets import (
    BUILTIN_DATASETS,
    Dataset,
    DatasetError,
    DatasetInfo,
    DatasetUnavailableError,
    is_available_offline,
    load_dataset,
    resolve_dataset_name,
    text,
)
from hpopt.datasets import download as dl

SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
SHARED_MNIST = SHARED / "mnist-t10k" / "mnist.npz"
SHARED_IMDB = SHARED / "sentiment" / "imdb_labelled.txt"
SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HYPEROPT_OFFLINE", "1")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def check_common(ds: Dataset, modality: str) -> None:
    assert ds.modality == modality
    for x, y in ((ds.x_train, ds.y_train), (ds.x_val, ds.y_val), (ds.x_test, ds.y_test)):
        assert len(x) == len(y) > 0
        assert y.dtype == np.int64
        assert 0 <= y.min() and y.max() < ds.num_classes
        assert x.shape[1:] == ds.input_shape
    if modality == "image":
        assert ds.x_train.dtype == np.uint8 and ds.x_train.ndim == 4
        assert ds.vocab_size is None
    else:
        assert ds.x_train.dtype == np.int32 and ds.x_train.ndim == 2
        for x in (ds.x_train, ds.x_val, ds.x_test):
            assert x.min() >= 0 and x.max() < ds.vocab_size


def assert_same(a: Dataset, b: Dataset) -> None:
    for attr in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, attr), getattr(b, attr))
    assert a.class_names == b.class_names and a.vocab_size == b.vocab_size


# ---------------------------------------------------------------- digits, splits

def test_digits_shapes_ranges_stratified_deterministic_disjoint():
    from sklearn.datasets import load_digits

    ds = load_dataset("digits", validation_split=0.25, test_size=0.2, seed=7)
    check_common(ds, "image")
    assert ds.input_shape == (8, 8, 1) and ds.num_classes == 10
    assert ds.x_train.max() == 255 and ds.x_train.min() == 0
    n = len(load_digits().target)
    assert len(ds.y_test) == pytest.approx(0.2 * n, abs=1)
    assert len(ds.y_val) == pytest.approx(0.25 * (n - len(ds.y_test)), abs=1)
    p_train = np.bincount(ds.y_train, minlength=10) / len(ds.y_train)
    p_val = np.bincount(ds.y_val, minlength=10) / len(ds.y_val)
    assert np.abs(p_train - p_val).max() < 0.02
    # the three parts are a partition of the original images
    whole = np.rint(load_digits().images * 255 / 16).astype(np.uint8).reshape(n, -1)
    parts = np.concatenate([ds.x_train, ds.x_val, ds.x_test]).reshape(n, -1)
    assert sorted(map(bytes, whole)) == sorted(map(bytes, parts))
    assert_same(ds, load_dataset("digits", validation_split=0.25, test_size=0.2, seed=7))
    other = load_dataset("digits", validation_split=0.25, test_size=0.2, seed=8)
    assert not np.array_equal(other.y_train, ds.y_train)
    # training part is shuffled, not sorted by class
    assert np.any(np.diff(ds.y_train) < 0)
    s = ds.summary()
    assert s == {"name": "digits", "modality": "image", "input_shape": [8, 8, 1], "num_classes": 10,
                 "n_train": len(ds.y_train), "n_val": len(ds.y_val), "n_test": len(ds.y_test),
                 "vocab_size": None}


@pytest.mark.parametrize("kw", [{"validation_split": 0}, {"validation_split": 1.0},
                                {"test_size": -0.1}, {"validation_split": True},
                                {"sequence_length": 0}, {"vocab_size": 2}, {"image_size": 0}])
def test_bad_options_are_rejected(kw):
    with pytest.raises(DatasetError) as exc:
        load_dataset("digits", **kw)
    assert next(iter(kw)) in str(exc.value)


def test_class_too_small_names_class_and_need(tmp_path):
    x = rng().integers(0, 255, (13, 4, 4), dtype=np.uint8)
    y = np.array([0] * 6 + [1] * 6 + [2])
    np.savez(tmp_path / "small.npz", x_train=x, y_train=y)
    with pytest.raises(DatasetError, match=r"class '2' has 1 sample.*at least \d+"):
        load_dataset(str(tmp_path / "small.npz"))


# ---------------------------------------------------------------- mnist / fashion

def tiny_images(shape, classes, per_class, seed=0):
    x = rng(seed).integers(0, 256, (classes * per_class, *shape), dtype=np.uint8)
    y = np.repeat(np.arange(classes), per_class).astype(np.uint8)
    return x, y


def write_tiny_mnist(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    x, y = tiny_images((28, 28), 10, 10)
    xt, yt = tiny_images((28, 28), 10, 3, seed=1)
    np.savez(folder / "mnist.npz", x_train=x, y_train=y, x_test=xt, y_test=yt)


def test_mnist_tiny_from_data_dir(tmp_path):
    write_tiny_mnist(tmp_path / "d")
    ds = load_dataset("mnist", data_dir=tmp_path / "d")
    check_common(ds, "image")
    assert ds.input_shape == (28, 28, 1) and ds.num_classes == 10
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (80, 20, 30)
    xt, _ = tiny_images((28, 28), 10, 3, seed=1)
    np.testing.assert_array_equal(ds.x_test[..., 0], xt)  # publisher test set kept as is
    assert is_available_offline("mnist", tmp_path / "d")
    assert load_dataset("mnist", data_dir=tmp_path / "d", image_size=14).input_shape == (14, 14, 1)


def test_mnist_found_in_keras_cache(tmp_path):
    write_tiny_mnist(tmp_path / "keras_home" / "datasets")
    assert is_available_offline("mnist", None)
    assert load_dataset("mnist").num_classes == 10


def test_mnist_real_shared_file():
    if not SHARED_MNIST.is_file():
        pytest.skip(f"{SHARED_MNIST} absent (fresh clone): covered by test_mnist_tiny_from_data_dir")
    ds = load_dataset("mnist", data_dir=SHARED_MNIST.parent)
    check_common(ds, "image")
    assert (len(ds.y_train) + len(ds.y_val), len(ds.y_test)) == (8000, 2000)
    assert ds.x_train.max() == 255


def write_idx(path: Path, arr: np.ndarray) -> None:
    magic = 0x0800 | arr.ndim
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in arr.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + arr.astype(np.uint8).tobytes())


@pytest.mark.parametrize("subfolder", ["fashion-mnist", ""])
def test_fashion_mnist_from_idx(tmp_path, subfolder):
    folder = tmp_path / "d" / subfolder
    folder.mkdir(parents=True)
    x, y = tiny_images((28, 28), 10, 6)
    xt, yt = tiny_images((28, 28), 10, 2, seed=3)
    for name, arr in (("train-images-idx3-ubyte.gz", x), ("train-labels-idx1-ubyte.gz", y),
                      ("t10k-images-idx3-ubyte.gz", xt), ("t10k-labels-idx1-ubyte.gz", yt)):
        write_idx(folder / name, arr)
    ds = load_dataset("fashion_mnist", data_dir=tmp_path / "d")
    check_common(ds, "image")
    assert ds.class_names[9] == "Ankle boot" and len(ds.y_test) == 20
    np.testing.assert_array_equal(ds.x_test[..., 0], xt)


# ---------------------------------------------------------------- cifar

def cifar_images(n, seed):
    """Channel-first rows; pixel (c, h, w) of image i encodes c so HWC order is checkable."""
    x = rng(seed).integers(0, 80, (n, 3, 32, 32), dtype=np.uint8)
    x[:, 1] += 80
    x[:, 2] += 160
    return x


def dump(path: Path, obj) -> None:
    with path.open("wb") as fh:
        pickle.dump(obj, fh, protocol=2)


def write_cifar10(folder: Path) -> None:
    folder.mkdir(parents=True)
    for i in range(1, 6):
        dump(folder / f"data_batch_{i}", {b"data": cifar_images(20, i).reshape(20, -1),
                                          b"labels": [j % 10 for j in range(20)]})
    dump(folder / "test_batch", {b"data": cifar_images(10, 9).reshape(10, -1), b"labels": list(range(10))})


def check_cifar_hwc(ds: Dataset) -> None:
    assert ds.input_shape == (32, 32, 3)
    r, g, b = (ds.x_train[..., c] for c in range(3))
    assert r.max() < 80 and 80 <= g.min() and g.max() < 160 and b.min() >= 160


@pytest.mark.parametrize("where, data_dir", [
    ("d/cifar-10-batches-py", "d"),
    ("d/cifar-10-batches-py", "d/cifar-10-batches-py"),
    ("keras_home/datasets/cifar-10-batches-py-target/cifar-10-batches-py", None),  # Keras 3 cache
])
def test_cifar10_from_batches_folder(tmp_path, where, data_dir):
    write_cifar10(tmp_path / where)
    ds = load_dataset("cifar10", data_dir=tmp_path / data_dir if data_dir else None)
    check_common(ds, "image")
    check_cifar_hwc(ds)
    assert len(ds.y_train) + len(ds.y_val) == 100 and len(ds.y_test) == 10
    assert ds.class_names[0] == "airplane"


def test_cifar10_from_tar_gz_archive(tmp_path):
    src = tmp_path / "src"
    write_cifar10(src / "cifar-10-batches-py")
    (tmp_path / "d").mkdir()
    with tarfile.open(tmp_path / "d" / "cifar-10-python.tar.gz", "w:gz") as tf:
        tf.add(src / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    assert is_available_offline("cifar10", tmp_path / "d")
    assert not (tmp_path / "d" / "cifar-10-batches-py").exists()  # availability check never writes
    ds = load_dataset("cifar10", data_dir=tmp_path / "d")
    check_cifar_hwc(ds)
    assert (tmp_path / "d" / "cifar-10-batches-py" / "test_batch").is_file()
    assert [p.name for p in (tmp_path / "d").iterdir() if p.name.startswith(".")] == []


def test_cifar_pickle_refuses_code(tmp_path):
    folder = tmp_path / "d" / "cifar-100-python"
    folder.mkdir(parents=True)
    dump(folder / "train", {b"data": print})  # a pickle that references a callable
    dump(folder / "test", {})
    with pytest.raises(DatasetError, match="refusing"):
        load_dataset("cifar100", data_dir=tmp_path / "d")


def test_cifar100_fine_labels_and_meta(tmp_path):
    folder = tmp_path / "d" / "cifar-100-python"
    folder.mkdir(parents=True)
    dump(folder / "train", {b"data": cifar_images(60, 1).reshape(60, -1),
                            b"fine_labels": [j % 3 * 40 for j in range(60)], b"coarse_labels": [0] * 60})
    dump(folder / "test", {b"data": cifar_images(6, 2).reshape(6, -1), b"fine_labels": [0, 40, 80] * 2})
    ds = load_dataset("cifar100", data_dir=tmp_path / "d")
    check_common(ds, "image")
    check_cifar_hwc(ds)
    assert ds.num_classes == 100 and set(ds.y_train) == {0, 40, 80}
    assert ds.class_names[0] == "apple" and ds.class_names[99] == "worm"
    dump(folder / "meta", {b"fine_label_names": [f"c{i}".encode() for i in range(100)]})
    assert load_dataset("cifar100", data_dir=tmp_path / "d").class_names[40] == "c40"


# ---------------------------------------------------------------- imdb / reuters

def object_array(seqs):
    arr = np.empty(len(seqs), dtype=object)
    arr[:] = [list(s) for s in seqs]
    return arr


def test_imdb_vocab_cap_and_long_review_truncated_not_dropped(tmp_path):
    r = rng(5)
    train = [r.integers(1, 50, r.integers(3, 30)).tolist() for _ in range(40)]
    train[0] = [7, 8] + [3] * 5000  # a very long review
    test = [r.integers(1, 50, 10).tolist() for _ in range(10)]
    (tmp_path / "d").mkdir()
    np.savez(tmp_path / "d" / "imdb.npz", x_train=object_array(train), y_train=np.arange(40) % 2,
             x_test=object_array(test), y_test=np.arange(10) % 2)
    ds = load_dataset("imdb", data_dir=tmp_path / "d", sequence_length=20, vocab_size=30)
    check_common(ds, "text")
    assert ds.input_shape == (20,) and ds.num_classes == 2 and ds.vocab_size <= 30
    assert len(ds.y_train) + len(ds.y_val) == 40 and len(ds.y_test) == 10
    every = np.concatenate([ds.x_train, ds.x_val, ds.x_test])
    assert every.max() < 30 and (every == text.OOV_ID).any()
    # the long review is kept: first tokens (ranks 7, 8 -> ids 8, 9), no padding
    long_rows = [row for row in np.concatenate([ds.x_train, ds.x_val]) if row[0] == 8 and row[1] == 9]
    assert len(long_rows) == 1 and (long_rows[0][2:] == 4).all()
    # a short review is padded in front with zeros
    short = ds.x_test[0]
    assert short[0] == 0 and short[-1] != 0


def test_reuters_keras_split(tmp_path):
    n = 60
    x = object_array([[i + 5, 1] for i in range(n)])  # first token identifies the sample
    y = np.arange(n) % 3
    (tmp_path / "d").mkdir()
    np.savez(tmp_path / "d" / "reuters.npz", x=x, y=y)
    ds = load_dataset("reuters", data_dir=tmp_path / "d", vocab_size=1000, sequence_length=4)
    check_common(ds, "text")
    assert ds.num_classes == 46 and ds.class_names[3] == "earn"
    order = np.arange(n)
    np.random.RandomState(113).shuffle(order)
    expected_test = {int(i) + 6 for i in order[int(n * 0.8):]}
    assert {int(row[-2]) for row in ds.x_test} == expected_test
    assert (ds.x_test[:, :2] == 0).all() and (ds.x_test[:, -1] == 2).all()


# ---------------------------------------------------------------- gtsrb

def write_gtsrb(root: Path, classes=3, per_class=6) -> Path:
    images = root / "GTSRB" / "Final_Training" / "Images"
    for c in range(classes):
        folder = images / f"{c:05d}"
        folder.mkdir(parents=True)
        rows = [["Filename", "Width", "Height", "Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2", "ClassId"]]
        for i in range(per_class):
            w, h = 30 + i, 34 + 2 * i
            arr = np.zeros((h, w, 3), np.uint8)
            arr[...] = (255, 0, 0)  # border: red
            arr[4:h - 4, 5:w - 5] = (0, 0, 40 * c + 10)  # sign: blue, shade per class
            name = f"{i:05d}_00000.ppm"
            Image.fromarray(arr).save(folder / name)
            rows.append([name, w, h, 5, 4, w - 6, h - 5, c])
        with (folder / f"GT-{c:05d}.csv").open("w", newline="") as fh:
            csv.writer(fh, delimiter=";").writerows(rows)
    return images


def test_gtsrb_official_layout_roi_crop(tmp_path):
    images = write_gtsrb(tmp_path / "d")
    ds = load_dataset("gtsrb", data_dir=tmp_path / "d", validation_split=0.25, test_size=0.25)
    check_common(ds, "image")
    assert ds.input_shape == (32, 32, 3) and ds.num_classes == 43
    assert len(ds.y_train) + len(ds.y_val) + len(ds.y_test) == 18
    everything = np.concatenate([ds.x_train, ds.x_val, ds.x_test])
    labels = np.concatenate([ds.y_train, ds.y_val, ds.y_test])
    assert everything[..., 0].max() == 0  # the red border was cropped away
    for img, label in zip(everything, labels):
        assert abs(int(img[..., 2].mean()) - (40 * label + 10)) <= 1
    for folder in (images.parent.parent, images.parent, images, images / "00001"):
        ds2 = load_dataset("gtsrb", data_dir=folder, image_size=16, validation_split=0.25, test_size=0.25)
        assert ds2.input_shape == (16, 16, 3)


def test_gtsrb_from_zip(tmp_path):
    write_gtsrb(tmp_path / "src")
    (tmp_path / "d").mkdir()
    with zipfile.ZipFile(tmp_path / "d" / "GTSRB_Final_Training_Images.zip", "w") as zf:
        for f in sorted((tmp_path / "src").rglob("*")):
            zf.write(f, f.relative_to(tmp_path / "src"))
    assert is_available_offline("gtsrb", tmp_path / "d")
    ds = load_dataset("gtsrb", data_dir=tmp_path / "d", validation_split=0.25, test_size=0.25)
    assert ds.num_classes == 43 and (tmp_path / "d" / "GTSRB" / "Final_Training").is_dir()


# ---------------------------------------------------------------- custom images

def write_folder(root: Path, spec: dict[str, list[tuple[str, tuple[int, int]]]]) -> Path:
    for cls, images in spec.items():
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i, (mode, (w, h)) in enumerate(images):
            color = 100 if mode == "L" else (200, 50, 10)
            Image.new(mode, (w, h), color).save(root / cls / f"img{i}.png")
    return root


def test_custom_folder_gray_native_size(tmp_path):
    root = write_folder(tmp_path / "imgs", {"cat": [("L", (10, 12))] * 6, "dog": [("L", (10, 12))] * 6})
    ds = load_dataset(str(root))
    check_common(ds, "image")
    assert ds.name == "imgs" and ds.class_names == ["cat", "dog"] and ds.input_shape == (12, 10, 1)
    assert (ds.x_train == 100).all()
    assert load_dataset(str(root), image_size=(8, 6)).input_shape == (8, 6, 1)


def test_custom_folder_mixed_modes_and_sizes(tmp_path):
    root = write_folder(tmp_path / "imgs", {"a": [("L", (10, 10))] * 5, "b": [("RGB", (20, 14))] * 5,
                                            "c": [("RGBA", (9, 9))] * 5})
    ds = load_dataset(str(root))
    assert ds.input_shape == (32, 32, 3) and ds.num_classes == 3


def test_custom_folder_errors(tmp_path):
    one = write_folder(tmp_path / "one", {"only": [("L", (4, 4))] * 4})
    with pytest.raises(DatasetError, match="at least 2"):
        load_dataset(str(one))
    empty = write_folder(tmp_path / "empty", {"a": [("L", (4, 4))] * 4})
    (empty / "b").mkdir()
    with pytest.raises(DatasetError, match="'b' has no images"):
        load_dataset(str(empty))
    bad = write_folder(tmp_path / "bad", {"a": [("L", (4, 4))] * 4, "b": [("L", (4, 4))] * 4})
    (bad / "b" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DatasetError, match="broken.png"):
        load_dataset(str(bad))


# ---------------------------------------------------------------- custom npz

def test_custom_npz_float_images_and_label_remap(tmp_path):
    x = rng().random((30, 6, 6)).astype(np.float32)
    y = np.repeat([10, 20, 30], 10)
    xt = rng(1).random((6, 6, 6, 1)).astype(np.float32)
    np.savez(tmp_path / "imgs.npz", x_train=x, y_train=y, x_test=xt, y_test=np.array([10, 20, 30] * 2))
    ds = load_dataset(str(tmp_path / "imgs.npz"))
    check_common(ds, "image")
    assert ds.class_names == ["10", "20", "30"] and ds.input_shape == (6, 6, 1)
    np.testing.assert_array_equal(ds.x_test[..., 0], np.rint(xt[..., 0] * 255).astype(np.uint8))
    np.testing.assert_array_equal(ds.y_test, [0, 1, 2] * 2)


def test_custom_npz_text_ids(tmp_path):
    x = rng().integers(0, 500, (40, 12)).astype(np.int64)
    np.savez(tmp_path / "ids.npz", x_train=x, y_train=np.arange(40) % 2)
    ds = load_dataset(str(tmp_path / "ids.npz"), vocab_size=100)
    check_common(ds, "text")
    assert ds.input_shape == (12,) and ds.vocab_size <= 100 and len(ds.y_test) == 8


def test_custom_npz_bad_shape(tmp_path):
    np.savez(tmp_path / "bad.npz", x_train=np.zeros((10, 3, 3, 3, 3)), y_train=np.arange(10) % 2)
    with pytest.raises(DatasetError, match="neither images"):
        load_dataset(str(tmp_path / "bad.npz"))


# ---------------------------------------------------------------- custom text tables

def test_csv_with_header_string_labels_quotes(tmp_path):
    path = tmp_path / "reviews.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["sentiment", "review"])  # any column order
        for i in range(30):
            good = i % 2 == 0
            w.writerow(["positive" if good else "negative",
                        f"Great, \"really\" great film {i}" if good else f"awful, boring movie {i}"])
    ds = load_dataset(str(path))
    check_common(ds, "text")
    assert ds.class_names == ["negative", "positive"] and len(ds.y_test) == 6
    assert ds.input_shape == (5,)  # min(200, longest training text)


def test_tsv_without_header(tmp_path):
    path = tmp_path / "data.tsv"
    lines = [f"text number {i} is {'good' if i % 2 else 'bad'}\t{i % 2}" for i in range(30)]
    path.write_text("\n".join(lines) + "\n\n")
    ds = load_dataset(str(path), sequence_length=3)
    check_common(ds, "text")
    assert ds.class_names == ["0", "1"] and ds.input_shape == (3,)
    assert len(ds.y_train) + len(ds.y_val) + len(ds.y_test) == 30  # no row taken as header


def test_sentiment_sentences(tmp_path):
    path = SHARED_IMDB
    if not path.is_file():  # fresh clone: a generated stand-in in the same format
        path = tmp_path / "imdb_labelled.txt"
        words = ["good", "bad", "movie", "plot", "\"quoted\"", "it's"]
        path.write_text("".join(f"{' '.join(words[j % 6] for j in range(i % 9 + 1))} \t{i % 2}\n"
                                for i in range(1000)), encoding="utf-8")
    ds = load_dataset(str(path))
    check_common(ds, "text")
    assert len(ds.y_train) + len(ds.y_val) + len(ds.y_test) == 1000
    assert ds.num_classes == 2 and ds.class_names == ["0", "1"]
    assert_same(ds, load_dataset(str(path)))


def test_tokenizer_and_padding_units():
    assert text.tokenize("Don't STOP, it's 2-fold!") == ["don't", "stop", "it's", "2", "fold"]
    vocab = text.build_vocabulary([["b", "a", "c", "a"], ["b", "d"]], vocab_size=4)
    assert vocab == {"a": 2, "b": 3}  # most frequent first, ties alphabetical, capped
    assert text.encode([["a", "zzz"]], vocab) == [[2, 1]]
    np.testing.assert_array_equal(text.pad_sequences([[5, 6, 7], [9]], 2), [[5, 6], [0, 9]])


# ---------------------------------------------------------------- names, offline, network

def test_resolve_dataset_name(tmp_path):
    assert resolve_dataset_name("MNIST") == "mnist"
    assert resolve_dataset_name("fashion-mnist") == "fashion_mnist"
    with pytest.raises(DatasetError) as exc:
        resolve_dataset_name("cifar")
    assert all(name in str(exc.value) for name in BUILTIN_DATASETS)
    with pytest.raises(DatasetError, match="no such file"):
        resolve_dataset_name(str(tmp_path / "missing.csv"))
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(DatasetError, match="unsupported extension"):
        resolve_dataset_name(str(tmp_path / "x.json"))
    (tmp_path / "ok.csv").write_text("a,b\n")
    assert resolve_dataset_name(str(tmp_path / "ok.csv")) == str((tmp_path / "ok.csv").resolve())
    assert isinstance(BUILTIN_DATASETS["gtsrb"], DatasetInfo)
    assert BUILTIN_DATASETS["imdb"].modality == "text" and BUILTIN_DATASETS["cifar100"].num_classes == 100


def test_offline_error_names_file_and_folders(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    for name, needle in (("cifar10", "cifar-10-batches-py"), ("mnist", "mnist.npz"),
                         ("gtsrb", "GTSRB_Final_Training_Images.zip"),
                         ("fashion_mnist", "train-images-idx3-ubyte.gz")):
        assert not is_available_offline(name, empty)
        with pytest.raises(DatasetUnavailableError) as exc:
            load_dataset(name, data_dir=empty)
        msg = str(exc.value)
        assert needle in msg and str(empty) in msg and str(tmp_path / "keras_home" / "datasets") in msg
    assert list(empty.iterdir()) == []


def test_is_available_offline_cases(tmp_path):
    assert is_available_offline("digits", None)
    assert not is_available_offline("imdb", tmp_path)
    assert not is_available_offline("no_such_dataset", tmp_path)
    (tmp_path / "t.tsv").write_text("a\t1\n")
    assert is_available_offline(str(tmp_path / "t.tsv"), None)


def test_network_failure_becomes_unavailable(tmp_path, monkeypatch):
    import urllib.error
    import urllib.request

    def refuse(*args, **kwargs):
        raise urllib.error.URLError("no network in tests")

    monkeypatch.delenv("HYPEROPT_OFFLINE")
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    with pytest.raises(DatasetUnavailableError, match="no network in tests") as exc:
        load_dataset("imdb", data_dir=tmp_path / "d")
    assert "imdb.npz" in str(exc.value)
    assert not any(p.is_file() for p in tmp_path.rglob("*"))  # no half file left behind


def test_download_is_atomic_with_file_url(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"x" * 3000)
    dest = dl.download(src.as_uri(), tmp_path / "out" / "file.bin")
    assert dest.read_bytes() == b"x" * 3000
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["file.bin"]
    with pytest.raises(OSError):
        dl.download((tmp_path / "absent").as_uri(), tmp_path / "out" / "other.bin")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["file.bin"]


def test_import_does_not_pull_tensorflow_or_sklearn():
    code = ("import sys, hpopt.datasets; "
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules; "
            "assert 'sklearn' not in sys.modules, 'config validation must stay fast'")
    result = subprocess.run([sys.executable, "-c", code], env={"PYTHONPATH": str(SRC)},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
