"""predict: a finished run's model on new image folders, .npz files and texts, with the run's preprocessing.

Two tiny runs (digits; a few hundred IMDB sentences, or a generated stand-in without ../shared) and
``optimizer.py predict`` on inputs written from their data: the classes must be those of
model.predict on the arrays the loader itself produced. Mistakes exit 2 with one line, before
TensorFlow loads.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from hpopt.cli import main
from hpopt.config import load_config
from hpopt.datasets import load_dataset, text
from hpopt.runner import run_optimization

SRC = Path(__file__).resolve().parents[1] / "src"
QUICK = {"min_epochs_per_trial": "1", "max_epochs_per_trial": "1", "trials": "1", "plot_generation": "none",
         "warm_start": "false", "n_startup_trials": "1", "n_warmup_steps": "0", "min_steps_per_epoch": "0",
         "stop_no_learning": "false"}
WORDS = ("good great fine love best nice bad awful poor hate worst dull movie film plot acting story the a was "
         "is very").split()


def _run(tmp, **settings):
    config = load_config({"results_dir": str(tmp / "results"), **QUICK, **settings}, environ={}, env_file=None)
    return config, run_optimization(config)


def _sentences(shared_datasets: Path, tmp: Path) -> Path:
    """300 labelled sentences: the real IMDB ones when ../shared has them, else generated."""
    source = shared_datasets / "sentiment" / "imdb_labelled.txt"
    out = tmp / "imdb300.txt"
    if source.is_file():
        lines = source.read_text(encoding="utf-8").splitlines()[:300]
    else:
        rng = np.random.default_rng(0)
        lines = [" ".join(rng.choice(WORDS[:6] if i % 2 else WORDS[6:12], 4)) + " " +
                 " ".join(rng.choice(WORDS[12:], 5)) + f"\t{i % 2}" for i in range(300)]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory, shared_datasets):
    tmp = tmp_path_factory.mktemp("predict")
    _, digits_dir = _run(tmp, dataset="digits", run_name="digits1")
    texts_path = _sentences(shared_datasets, tmp)
    text_config, text_dir = _run(tmp, dataset=str(texts_path), run_name="text1", sequence_length="40")
    return {"tmp": tmp, "digits": digits_dir, "text": text_dir, "texts_path": texts_path,
            "text_options": text_config.split_options()}


def _predict(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["predict", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _classes(path: Path) -> list[tuple[str, float]]:
    """(class, probability) per row: probabilities move with any change of the inputs, classes may not."""
    with path.open(newline="") as fh:
        return [(row["predicted_class"], round(float(row["probability"]), 4)) for row in csv.DictReader(fh)]


def _expected(run_dir: Path, x: np.ndarray) -> list[tuple[str, float]]:
    spec = json.loads((run_dir / "preprocessing.json").read_text())
    model = keras.saving.load_model(run_dir / "best_model.keras")
    probs = model.predict(x, verbose=0)
    return [(spec["class_names"][k], round(float(p[k]), 4)) for k, p in zip(probs.argmax(axis=1), probs)]


def test_preprocessing_json_describes_the_loaded_data(runs):
    spec = json.loads((runs["digits"] / "preprocessing.json").read_text())
    assert (spec["kind"], spec["height"], spec["width"], spec["channels"]) == ("image", 8, 8, 1)
    assert spec["class_names"] == [str(d) for d in range(10)]
    tspec = json.loads((runs["text"] / "preprocessing.json").read_text())
    data = load_dataset(str(runs["texts_path"]), **runs["text_options"])
    assert tspec["kind"] == "text" and tspec["lowercase"] is True
    assert tspec["vocabulary"] == data.vocabulary and tspec["sequence_length"] == data.x_train.shape[1]
    assert tspec["class_names"] == data.class_names


def test_image_folder_gives_the_classes_of_model_predict(runs, capsys, digits):
    folder = runs["tmp"] / "images"
    x = digits.x_test[:40]
    for i, img in enumerate(x):  # nested, as users keep them; PNG is lossless, so pixels survive
        (folder / f"part{i % 2}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(img[..., 0]).save(folder / f"part{i % 2}" / f"img{i:03d}.png")
    out = runs["tmp"] / "folder.csv"
    code, stdout, err = _predict(capsys, f"run={runs['digits']}", f"input={folder}", f"output={out}")
    assert code == 0, err
    assert stdout.strip().splitlines()[-1] == f"predictions: {out.resolve()}"
    assert "predicted 40 input(s)" in stdout
    with out.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    by_id = {r["id"]: r for r in rows}
    expected = _expected(runs["digits"], x)
    assert [(by_id[f"part{i % 2}/img{i:03d}.png"]["predicted_class"],
             round(float(by_id[f"part{i % 2}/img{i:03d}.png"]["probability"]), 4)) for i in range(40)] == expected
    first = rows[0]
    top = first["top3"].split("|")
    assert len(top) == 3 and top[0].split(":")[0] == first["predicted_class"]
    assert abs(float(top[0].split(":")[1]) - float(first["probability"])) < 1e-4


def test_npz_gives_the_classes_of_model_predict(runs, capsys, digits):
    path = runs["tmp"] / "digits.npz"
    np.savez(path, x_test=digits.x_test[:50, ..., 0].astype(np.float32) / 255.0)  # (N, H, W) floats in 0..1
    out = runs["tmp"] / "npz.csv"
    code, _, err = _predict(capsys, f"run={runs['digits']}", f"input={path}", f"output={out}")
    assert code == 0, err
    assert _classes(out) == _expected(runs["digits"], digits.x_test[:50])


def test_other_sizes_and_colors_are_converted_like_the_loader(runs, capsys, digits):
    """A 24x24 RGB image is converted to the run's 8x8 grayscale (PIL convert + bilinear resize)."""
    img = Image.fromarray(digits.x_test[0][..., 0]).resize((24, 24)).convert("RGB")
    path = runs["tmp"] / "big.jpg"
    img.save(path, quality=95)
    out = runs["tmp"] / "big.csv"
    code, _, err = _predict(capsys, f"run={runs['digits']}", f"input={path}", f"output={out}")
    assert code == 0, err
    with Image.open(path) as reread:
        x = np.asarray(reread.convert("L").resize((8, 8), Image.Resampling.BILINEAR))[np.newaxis, ..., np.newaxis]
    assert _classes(out) == _expected(runs["digits"], x)


def test_text_file_gives_the_classes_of_model_predict(runs, capsys):
    sentences = [line.split("\t")[0] for line in runs["texts_path"].read_text(encoding="utf-8").splitlines()[:30]]
    sentences += ["A completely NEW sentence, with words the model never saw!"]
    path = runs["tmp"] / "sentences.txt"
    path.write_text("\n".join(sentences) + "\n", encoding="utf-8")
    out = runs["tmp"] / "texts.csv"
    code, _, err = _predict(capsys, f"run={runs['text']}", f"input={path}", f"output={out}")
    assert code == 0, err
    data = load_dataset(str(runs["texts_path"]), **runs["text_options"])  # the loader's own encoding
    x = text.pad_sequences(text.encode([text.tokenize(s) for s in sentences], data.vocabulary), data.x_train.shape[1])
    assert _classes(out) == _expected(runs["text"], x)
    csv_path = runs["tmp"] / "sentences.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([["id", "review"], *[[i, s] for i, s in enumerate(sentences)]])
    code, _, err = _predict(capsys, f"run={runs['text']}", f"input={csv_path}", f"output={out}")
    assert code == 0, err
    assert _classes(out) == _expected(runs["text"], x)


def test_text_npz_of_token_ids_is_taken_as_is(runs, capsys):
    data = load_dataset(str(runs["texts_path"]), **runs["text_options"])
    path = runs["tmp"] / "ids.npz"
    np.savez(path, x=data.x_test)
    out = runs["tmp"] / "ids.csv"
    code, _, err = _predict(capsys, f"run={runs['text']}", f"input={path}", f"output={out}")
    assert code == 0, err
    assert _classes(out) == _expected(runs["text"], data.x_test)


def test_mistakes_exit_2_with_one_line_before_tensorflow(runs, tmp_path):
    """Run in a fresh interpreter: every check answers without importing TensorFlow."""
    (tmp_path / "bad.png").write_bytes(b"not an image")
    (tmp_path / "empty").mkdir()
    (tmp_path / "blank.txt").write_text("\n\n")
    (tmp_path / "data.bin").write_bytes(b"x")
    (tmp_path / "s.txt").write_text("a sentence\n")
    digits_run, text_run = runs["digits"], runs["text"]
    cases = {
        "unknown run": [f"run={tmp_path / 'nope'}", f"input={tmp_path / 's.txt'}"],
        "no model": [f"run={tmp_path}", f"input={tmp_path / 's.txt'}"],
        "text for an image run": [f"run={digits_run}", f"input={tmp_path / 's.txt'}"],
        "images for a text run": [f"run={text_run}", f"input={tmp_path / 'empty'}"],
        "unreadable image": [f"run={digits_run}", f"input={tmp_path / 'bad.png'}"],
        "empty folder": [f"run={digits_run}", f"input={tmp_path / 'empty'}"],
        "empty text": [f"run={text_run}", f"input={tmp_path / 'blank.txt'}"],
        "unsupported extension": [f"run={digits_run}", f"input={tmp_path / 'data.bin'}"],
        "missing input": [f"run={digits_run}", f"input={tmp_path / 'missing.png'}"],
        "not exported": [f"run={digits_run}", f"input={tmp_path / 'empty'}", "model=tflite"],
        "bad model key": [f"run={digits_run}", f"input={tmp_path / 'empty'}", "model=h5"],
        "unknown key": [f"run={digits_run}", f"inptu={tmp_path / 'empty'}"],
        "help": ["--help"],
    }
    script = (
        "import contextlib, io, json, sys\n"
        "from hpopt.cli import main\n"
        "out = {}\n"
        f"for name, args in {cases!r}.items():\n"
        "    err, std = io.StringIO(), io.StringIO()\n"
        "    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(std):\n"
        "        code = main(['predict', *args])\n"
        "    out[name] = [code, err.getvalue(), std.getvalue()]\n"
        "out['tf'] = 'tensorflow' in sys.modules or 'keras' in sys.modules\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin", "HYPEROPT_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result.pop("tf") is False
    code, _, stdout = result.pop("help")
    assert code == 0 and "run=<run folder>" in stdout and "model=keras|savedmodel|tflite|onnx" in stdout
    for name, (code, stderr, _) in result.items():
        assert code == 2, (name, stderr)
        assert stderr.count("\n") == 1 and stderr.startswith("error: ") and "Traceback" not in stderr, (name, stderr)
    assert "no such run folder" in result["unknown run"][1]
    assert "no best_model.keras" in result["no model"][1]
    assert "classifies images" in result["text for an image run"][1]
    assert "classifies text" in result["images for a text run"][1]
    assert "cannot read image" in result["unreadable image"][1]
    assert "empty" in result["empty folder"][1] and "empty" in result["empty text"][1]
    assert "unsupported kind '.bin'" in result["unsupported extension"][1]
    assert "export=tflite" in result["not exported"][1]
    assert "did you mean 'input'" in result["unknown key"][1]


def test_cli_terminal_is_quiet_and_warns_about_a_0_to_16_scale(runs, tmp_path, digits):
    """A fresh ``optimizer.py predict``: TensorFlow's native start-up lines stay off the terminal, and
    images on scikit-learn's 0..16 scale (read as 0..255: near black) get a one-line warning."""
    dark = np.rint(digits.x_test[:10, ..., 0].astype(np.float32) * 16 / 255)  # 0..16, as load_digits gives
    path = tmp_path / "digits16.npz"
    np.savez(path, x_test=dark)
    done = subprocess.run([sys.executable, str(SRC / "optimizer.py"), "predict", f"run={runs['digits']}",
                           f"input={path}", f"output={tmp_path / 'out.csv'}"], capture_output=True, text=True,
                          timeout=180, env={"PATH": "/usr/bin:/bin", "HYPEROPT_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr
    lines = (done.stdout + done.stderr).splitlines()
    assert not [line for line in lines if line.startswith(("I0000", "W0000", "E0000", "WARNING: All log messages"))]
    assert sum("pixel values reach only 16" in line for line in lines) == 1, done.stderr
    assert lines[-1].startswith("predictions: ") or done.stdout.splitlines()[-1].startswith("predictions: ")
