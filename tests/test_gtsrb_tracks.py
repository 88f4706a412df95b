"""GTSRB is split by track: the ~30 frames of one physical sign never straddle train,
validation and test (a per-image split leaks near-duplicates into the held-out parts).

A tiny official-layout tree (GTSRB/Final_Training/Images/000NN/<track>_<frame>.ppm with
GT-000NN.csv) where every image's colour encodes its (class, track), so the loaded,
cropped and resized arrays still say which track they came from.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hpopt.datasets import load_dataset
from hpopt.datasets.splits import split_indices

FRAMES = 5


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HYPEROPT_OFFLINE", "1")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))


def colour(class_id: int, track: int) -> tuple[int, int, int]:
    return (40 * class_id + 20, 30 * track + 15, 200)


def write_tracks(root: Path, tracks_per_class: dict[int, int]) -> Path:
    """The official layout; frames of one track are the same colour (one sign), 12x12 px."""
    images = root / "GTSRB" / "Final_Training" / "Images"
    for class_id, tracks in tracks_per_class.items():
        folder = images / f"{class_id:05d}"
        folder.mkdir(parents=True)
        rows = [["Filename", "Width", "Height", "Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2", "ClassId"]]
        for track in range(tracks):
            for frame in range(FRAMES):
                name = f"{track:05d}_{frame:05d}.ppm"
                Image.new("RGB", (12, 12), colour(class_id, track)).save(folder / name)
                rows.append([name, 12, 12, 0, 0, 11, 11, class_id])
        with (folder / f"GT-{class_id:05d}.csv").open("w", newline="") as fh:
            csv.writer(fh, delimiter=";").writerows(rows)
    return images


def tracks_of(x: np.ndarray, y: np.ndarray) -> set[tuple[int, int]]:
    """(class, track) of every image, read back from its colour."""
    found = set()
    for img, label in zip(x, y):
        r, g, _ = (int(round(v)) for v in img.reshape(-1, 3).mean(axis=0))
        class_id, track = (r - 20) // 40, (g - 15) // 30
        assert class_id == label, "colour and label disagree: the fake tree is wrong"
        found.add((class_id, track))
    return found


def test_no_track_lands_in_two_splits(tmp_path):
    write_tracks(tmp_path / "d", {0: 6, 1: 6, 2: 7, 3: 5})
    ds = load_dataset("gtsrb", data_dir=tmp_path / "d", validation_split=0.2, test_size=0.2, image_size=8)
    train, val, test = (tracks_of(ds.x_train, ds.y_train), tracks_of(ds.x_val, ds.y_val),
                        tracks_of(ds.x_test, ds.y_test))
    assert not train & val and not train & test and not val & test
    assert len(train | val | test) == 24
    # Whole tracks: every track found in a part brings all its frames there.
    assert len(ds.y_train) == FRAMES * len(train)
    assert len(ds.y_val) == FRAMES * len(val) and len(ds.y_test) == FRAMES * len(test)
    # Stratified by track: every class in every part; fractions close to the configured ones.
    for part in (ds.y_train, ds.y_val, ds.y_test):
        assert set(part.tolist()) == {0, 1, 2, 3}
    n = 24 * FRAMES
    assert abs(len(ds.y_test) / n - 0.2) < 0.1
    assert abs(len(ds.y_val) / (n - len(ds.y_test)) - 0.2) < 0.1
    # Seeded: the same seed gives the same split, another seed another one.
    again = load_dataset("gtsrb", data_dir=tmp_path / "d", validation_split=0.2, test_size=0.2, image_size=8)
    assert np.array_equal(again.x_val, ds.x_val) and np.array_equal(again.x_train, ds.x_train)
    other = load_dataset("gtsrb", data_dir=tmp_path / "d", validation_split=0.2, test_size=0.2, image_size=8,
                         seed=7)
    assert tracks_of(other.x_test, other.y_test) != test


def test_single_track_class_stays_in_training_with_a_warning(tmp_path, caplog):
    write_tracks(tmp_path / "d", {0: 5, 1: 5, 2: 1})
    with caplog.at_level(logging.WARNING, logger="hpopt.datasets"):
        ds = load_dataset("gtsrb", data_dir=tmp_path / "d", validation_split=0.25, test_size=0.25, image_size=8)
    assert (ds.y_train == 2).sum() == FRAMES
    assert 2 not in ds.y_val and 2 not in ds.y_test
    assert any("single group" in r.getMessage() and "test" in r.getMessage() for r in caplog.records)


def test_split_indices_groups_unit():
    """splits.py's rule on its own: groups never straddle; without groups it is per sample."""
    y = np.repeat([0, 1], 40)
    groups = np.repeat(np.arange(16), 5)  # 8 groups of 5 per class
    train, val, test = split_indices(y, ["a", "b"], carve_test=True, test_size=0.25, validation_split=0.25,
                                     seed=3, groups=groups)
    parts = [set(groups[p].tolist()) for p in (train, val, test)]
    assert not parts[0] & parts[1] and not parts[0] & parts[2] and not parts[1] & parts[2]
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(80))
    assert len(test) == 20 and len(val) == 10  # 2 of 8 groups per class (25%), then 1 of 6 (17%, a tie with 33%)
    with pytest.raises(Exception, match="one group id per sample"):
        split_indices(y, ["a", "b"], carve_test=True, test_size=0.25, validation_split=0.25, seed=3,
                      groups=groups[:-1])
