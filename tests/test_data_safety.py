"""A data file never runs code, and a request never names server files outside the data roots.

A pickled object array whose unpickling would write a marker file is refused by the CLI
(exit 2) and by the API (422), and the marker is never written. Keras-style object arrays
of int lists are still read, by parsing the pickle instead of running it.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from api_helpers import TINY, ApiServer, clean_env

from hpopt.datasets import DatasetError, load_dataset
from hpopt.datasets.safe_npz import PickledDataError, load_npz, parse_object_array

SRC = Path(__file__).resolve().parents[1] / "src"


class _WritesMarker:
    """Unpickling this calls open(marker, "w"): the file's existence proves code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _pickled_npz(path: Path, marker: Path) -> Path:
    x = np.empty(4, dtype=object)
    x[:] = [[1, 2], [3], _WritesMarker(marker), [4, 5]]
    np.savez(path, x_train=x, y_train=np.array([0, 1, 0, 1]))
    return path


def _sequences(n: int) -> np.ndarray:
    x = np.empty(n, dtype=object)
    x[:] = [[i + 2, 1, 3] * (i % 3 + 1) for i in range(n)]
    return x


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_object_arrays_of_int_lists_are_parsed_not_unpickled(protocol):
    x = _sequences(7)
    parsed = parse_object_array(pickle.dumps(x, protocol=protocol))
    assert parsed.dtype == object and [list(s) for s in parsed] == [list(s) for s in x]


def test_pickled_npz_refused_and_marker_never_written(tmp_path):
    marker = tmp_path / "MARKER"
    path = _pickled_npz(tmp_path / "evil.npz", marker)
    with pytest.raises(PickledDataError, match="pickled Python objects") as exc:
        load_npz(path)
    assert "refers to" in str(exc.value) and "open" in str(exc.value)
    with pytest.raises(DatasetError):
        load_dataset(str(path))
    (tmp_path / "d").mkdir()
    _pickled_npz(tmp_path / "d" / "imdb.npz", marker)
    with pytest.raises(PickledDataError):
        load_dataset("imdb", data_dir=tmp_path / "d")
    assert not marker.exists()


def test_custom_npz_of_sequences_still_loads(tmp_path):
    np.savez(tmp_path / "seq.npz", x_train=_sequences(40), y_train=np.arange(40) % 2)
    ds = load_dataset(str(tmp_path / "seq.npz"), sequence_length=8, vocab_size=100)
    assert ds.modality == "text" and ds.x_train.shape[1] == 8


def test_cli_exits_2_on_pickled_npz_and_never_runs_it(tmp_path):
    marker = tmp_path / "MARKER"
    path = _pickled_npz(tmp_path / "evil.npz", marker)
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("HYPEROPT_")}
    env.update(PYTHONPATH=str(SRC), HYPEROPT_OFFLINE="1", CUDA_VISIBLE_DEVICES="-1", TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, str(SRC / "optimizer.py"), f"dataset={path}", "trials=1",
                             "plot_generation=none"], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 2, result.stderr
    assert "pickled Python objects" in result.stderr and "Traceback" not in result.stderr
    assert not marker.exists()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    work = tmp_path_factory.mktemp("data_safety")
    srv = ApiServer(work, work / "results", "max_concurrent_jobs=0", env=clean_env()).start()
    yield srv
    srv.stop()


def test_api_refuses_pickled_npz_with_422_and_never_runs_it(server):
    marker = server.workdir / "MARKER"
    data = server.results_dir / "data"
    data.mkdir(parents=True, exist_ok=True)
    _pickled_npz(data / "evil.npz", marker)
    with server.client() as client:
        for dataset in ("evil.npz", str(data / "evil.npz")):
            response = client.post("/optimize", json={**TINY, "dataset": dataset})
            assert response.status_code == 422, response.text
            assert "pickled Python objects" in response.text
    assert not marker.exists()


def test_api_dataset_paths_confined_to_data_roots(server, tmp_path):
    outside = tmp_path / "outside"
    (outside / "cls_a").mkdir(parents=True)
    (outside / "secret.csv").write_text("text,label\na,0\nb,1\n")
    messages = []
    with server.client() as client:
        for dataset in ("/etc", "/etc/shadow.csv", "/no/such/file.csv", str(outside), str(outside / "secret.csv"),
                        "../../etc/passwd.csv"):
            response = client.post("/optimize", json={**TINY, "dataset": dataset})
            assert response.status_code == 422, response.text
            detail = response.json()["detail"][0]
            assert detail["loc"][-1] == "dataset"
            messages.append(detail["msg"].replace(repr(dataset), "<value>"))
            assert "passwd" not in response.text or dataset.endswith("passwd.csv")
            assert "cls_a" not in response.text and "hostname" not in response.text
    assert len(set(messages)) == 1, messages  # missing and forbidden read the same


def test_api_data_dir_confined_to_data_roots(server):
    (server.results_dir / "data" / "keras").mkdir(parents=True, exist_ok=True)
    with server.client() as client:
        texts = set()
        for data_dir in ("/etc", "/no/such/folder", "../.."):
            response = client.post("/optimize", json={**TINY, "dataset": "digits", "data_dir": data_dir})
            assert response.status_code == 422, response.text
            assert response.json()["detail"][0]["loc"][-1] == "data_dir", response.text
            texts.add(response.json()["detail"][0]["msg"].replace(repr(data_dir), "<value>"))
        assert len(texts) == 1, texts
        inside = client.post("/optimize", json={**TINY, "dataset": "digits", "data_dir": "keras"})
        # a folder under a data root is accepted, unless data_dir is made an operator-only setting
        assert inside.status_code == 201 or "operator setting" in inside.text, inside.text
