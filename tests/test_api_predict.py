"""POST /jobs/{id}/predict through a real API server: uploads and texts give the classes of model.predict.

The server runs each prediction in a subprocess (it never imports TensorFlow); its limits (upload
size, number and length of texts) answer 413 / 422, like the other job routes it needs the API key.
"""

from __future__ import annotations

import io
import json
import threading
import time

import keras
import numpy as np
import pytest
from api_helpers import TINY, ApiServer, clean_env, wait_status
from PIL import Image

from hpopt.datasets import load_dataset, text

KEY = "predict-test-key"
QUICK = {**TINY, "trials": 1, "max_epochs_per_trial": 1, "min_epochs_per_trial": 1, "min_steps_per_epoch": 0,
         "warm_start": False, "stop_no_learning": False}
WORDS = "good great love fine bad awful hate poor movie film plot the".split()


@pytest.fixture(scope="module")
def api(tmp_path_factory, shared_datasets):
    work = tmp_path_factory.mktemp("api_predict")
    results = work / "results"
    (results / "data").mkdir(parents=True)
    source = shared_datasets / "sentiment" / "imdb_labelled.txt"
    if source.is_file():
        lines = source.read_text(encoding="utf-8").splitlines()[:200]
    else:
        rng = np.random.default_rng(1)
        lines = [" ".join(rng.choice(WORDS[:4] if i % 2 else WORDS[4:8], 3)) + " " +
                 " ".join(rng.choice(WORDS[8:], 3)) + f"\t{i % 2}" for i in range(200)]
    texts_path = results / "data" / "sentences.txt"
    texts_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    server = ApiServer(work, results, "max_predict_upload_bytes=20000", "max_predict_texts=5",
                       "max_concurrent_predictions=1",
                       "max_predict_text_chars=300", env=clean_env(HYPEROPT_API_KEY=KEY)).start()
    with server.client(**{"X-API-Key": KEY}) as client:
        image_job = client.post("/optimize", json={**QUICK, "run_name": "digits_job"}).json()["job_id"]
        pending = client.post("/optimize", json={**QUICK, "run_name": "waiting"}).json()["job_id"]
        early = client.post(f"/jobs/{pending}/predict", json={"texts": ["x"]})  # queued behind the first: not finished
        client.post(f"/jobs/{pending}/stop")
        text_job = client.post("/optimize", json={**QUICK, "run_name": "text_job", "dataset": str(texts_path),
                                                  "sequence_length": 40}).json()["job_id"]
        for job in (image_job, text_job):
            assert wait_status(client, job, ("completed", "failed"), timeout=300)["status"] == "completed"
        yield {"client": client, "server": server, "image": image_job, "text": text_job, "early": early,
               "texts_path": texts_path, "results": results}
    server.stop()


def _expected(run_dir, x) -> list[tuple[str, float]]:
    names = json.loads((run_dir / "preprocessing.json").read_text())["class_names"]
    probs = keras.saving.load_model(run_dir / "best_model.keras").predict(x, verbose=0)
    return [(names[k], round(float(p[k]), 4)) for k, p in zip(probs.argmax(axis=1), probs)]


def _got(answer) -> list[tuple[str, float]]:
    assert answer.status_code == 200, answer.text
    return [(r["predicted_class"], round(r["probability"], 4)) for r in answer.json()["predictions"]]


def test_npz_upload_gives_the_classes_of_model_predict(api, digits):
    buffer = io.BytesIO()
    np.savez(buffer, x_test=digits.x_test[:30])
    answers: list = []
    first = threading.Thread(target=lambda: answers.append(api["client"].post(
        f"/jobs/{api['image']}/predict", files={"file": ("batch.npz", buffer.getvalue())})))
    first.start()
    time.sleep(2)  # the first is loading TensorFlow: the one slot (max_concurrent_predictions=1) is taken
    with api["server"].client(**{"X-API-Key": KEY}) as other:
        busy = other.post(f"/jobs/{api['image']}/predict", json={"texts": ["x"]})
    first.join(120)
    assert busy.status_code == 429 and busy.headers["retry-after"], busy.text
    answer = answers[0]
    assert _got(answer) == _expected(api["results"] / "digits_job", digits.x_test[:30])
    body = answer.json()
    assert body["model"] == "keras" and body["run_name"] == "digits_job"
    assert [r["id"] for r in body["predictions"]] == [str(i) for i in range(30)]
    assert len(body["predictions"][0]["top3"].split("|")) == 3


def test_image_upload_is_resized_and_named(api, digits):
    buffer = io.BytesIO()
    Image.fromarray(digits.x_test[3][..., 0]).resize((16, 16)).convert("RGB").save(buffer, format="PNG")
    answer = api["client"].post(f"/jobs/{api['image']}/predict", files={"file": ("seven.png", buffer.getvalue())})
    with Image.open(io.BytesIO(buffer.getvalue())) as img:
        x = np.asarray(img.convert("L").resize((8, 8), Image.Resampling.BILINEAR))[np.newaxis, ..., np.newaxis]
    assert _got(answer) == _expected(api["results"] / "digits_job", x)
    assert answer.json()["predictions"][0]["id"] == "seven.png"


def test_texts_give_the_classes_of_model_predict(api):
    texts = ["A wonderful, moving film.", "Terrible acting\nand a boring plot", "I'd watch it again!"]
    answer = api["client"].post(f"/jobs/{api['text']}/predict", json={"texts": texts})
    data = load_dataset(str(api["texts_path"]), sequence_length=40)
    x = text.pad_sequences(text.encode([text.tokenize(t) for t in texts], data.vocabulary), data.x_train.shape[1])
    assert _got(answer) == _expected(api["results"] / "text_job", x)
    assert [r["id"] for r in answer.json()["predictions"]] == ["0", "1", "2"]


def test_wrong_input_and_limits_are_4xx(api, digits):
    client, image = api["client"], api["image"]

    def problem(answer, status=422) -> str:
        assert answer.status_code == status, (answer.status_code, answer.text)
        detail = answer.json()["detail"]
        return detail if isinstance(detail, str) else detail[0]["msg"]

    assert "classifies images" in problem(client.post(f"/jobs/{image}/predict", json={"texts": ["good"]}))
    assert "max_predict_texts=5" in problem(client.post(f"/jobs/{api['text']}/predict", json={"texts": ["a"] * 6}))
    assert "max_predict_text_chars=300" in problem(client.post(f"/jobs/{api['text']}/predict",
                                                               json={"texts": ["a" * 301]}))
    assert "empty" in problem(client.post(f"/jobs/{api['text']}/predict", json={"texts": []}))
    assert "unsupported kind" in problem(client.post(f"/jobs/{image}/predict", files={"file": ("x.exe", b"MZ")}))
    assert "cannot read image" in problem(client.post(f"/jobs/{image}/predict", files={"file": ("x.png", b"no")}))
    assert "export=tflite" in problem(client.post(f"/jobs/{image}/predict?model=tflite",
                                                  files={"file": ("x.png", b"no")}))
    big = io.BytesIO()
    np.savez(big, x=np.zeros((400, 8, 8), dtype=np.uint8))  # > 20000 bytes
    assert "larger than 20000" in problem(client.post(f"/jobs/{image}/predict",
                                                      files={"file": ("big.npz", big.getvalue())}), 413)
    assert problem(client.post("/jobs/nope/predict", json={"texts": ["a"]}), 404)
    assert "finished" in problem(api["early"], 409)
    with api["server"].client() as anonymous:
        assert anonymous.post(f"/jobs/{image}/predict", json={"texts": ["a"]}).status_code == 401


def test_the_route_is_documented(api):
    schema = api["client"].get("/openapi.json").json()
    operation = schema["paths"]["/jobs/{job_id}/predict"]["post"]
    assert set(operation["requestBody"]["content"]) == {"multipart/form-data", "application/json"}
