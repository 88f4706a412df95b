"""POST /jobs/{id}/predict: a finished job's best model on an uploaded file or a list of texts."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from hpopt.api.deps import JobDep, ManagerDep, errors
from hpopt.api.predict_process import PredictFailure, run_predict, texts_csv, upload_suffix
from hpopt.api.schemas import ErrorOut
from hpopt.api.security import require_api_key
from hpopt.layout import RunLayout

router = APIRouter(prefix="/jobs", tags=["predict"], dependencies=[Depends(require_api_key)])


class TextsIn(BaseModel):
    texts: list[str]


class PredictionRow(BaseModel):
    id: str
    predicted_class: str
    probability: float
    top3: str


class PredictOut(BaseModel):
    job_id: str
    run_name: str
    model: str
    predictions: list[PredictionRow]


_BODY = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary",
                 "description": "an image (.png .jpg .jpeg .bmp .ppm .gif), a Keras-layout .npz (x_test or x), "
                                "or a .txt (one text per line) / .csv (a text column)"}}}},
    "application/json": {"schema": {"type": "object", "required": ["texts"], "properties": {
        "texts": {"type": "array", "items": {"type": "string"}}}}},
}}}


def _invalid(loc: tuple[str, ...], msg: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("body", *loc), "type": "value_error", "msg": msg}])


_ANSWERS: dict[int | str, dict[str, Any]] = {
    **errors(404, 409, 413),
    429: {"model": ErrorOut, "description": "max_concurrent_predictions are running; retry after Retry-After"},
    415: {"model": ErrorOut, "description": "neither multipart/form-data nor application/json"},
    500: {"model": ErrorOut, "description": "the prediction process failed (the server log has why)"},
    504: {"model": ErrorOut, "description": "the prediction took longer than predict_timeout_s"},
}


@router.post("/{job_id}/predict", response_model=PredictOut, responses=_ANSWERS,
             summary="Predict with the job's best model", openapi_extra=_BODY)
async def predict(
    record: JobDep,
    manager: ManagerDep,
    request: Request,
    model: Literal["keras", "savedmodel", "tflite", "onnx"] = Query(
        "keras", description="savedmodel, tflite and onnx need a job run with export="),
) -> dict[str, Any]:
    """Upload one file as multipart ``file``, or send JSON ``{"texts": [...]}``. The job's own
    preprocessing (preprocessing.json) is applied; images of another size are resized. Rows: id
    (file name or row index), predicted_class, probability, top3 (``name:p|...``)."""
    settings = manager.settings
    if record.status in ("pending", "running"):
        raise HTTPException(409, f"job {record.job_id} is {record.status}: predict once it has finished")
    layout = RunLayout(manager.run_dir(record))
    if not layout.best_model.is_file():
        raise HTTPException(409, f"job {record.job_id} ({record.status}) has no best_model.keras: no trial "
                                 "completed or save_best_model=false")
    data, suffix, field, filename = await _read_body(request, settings)
    slots = request.app.state.predictions
    if not slots.take():
        raise HTTPException(429, f"{slots.limit} prediction(s) already running (max_concurrent_predictions); "
                                 "retry shortly", headers={"Retry-After": "5"})
    try:
        rows = await run_predict(layout.run_dir, data, suffix, model, settings.predict_timeout_s, settings.job_nice)
    except PredictFailure as exc:
        if exc.status == 422:
            raise _invalid((field,), exc.detail) from None
        raise HTTPException(exc.status, exc.detail) from None
    finally:
        slots.give_back()
    if filename and len(rows) == 1 and rows[0]["id"] == f"input{suffix}":  # one image: its own name, not ours
        rows[0]["id"] = filename
    return {"job_id": record.job_id, "run_name": record.run_name, "model": model, "predictions": rows}


async def _read_body(request: Request, settings: Any) -> tuple[bytes, str, str, str]:
    """(input bytes, their suffix, the request field they came from, the upload's name), limits checked."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        try:
            body = TextsIn.model_validate_json(await request.body())
        except ValidationError as exc:
            raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors(
                include_url=False, include_context=False)]) from None
        if not body.texts:
            raise _invalid(("texts",), "texts is empty: give at least one text")
        if len(body.texts) > settings.max_predict_texts:
            raise _invalid(("texts",), f"{len(body.texts)} texts exceed this server's limit max_predict_texts="
                                       f"{settings.max_predict_texts}")
        longest = max(len(t) for t in body.texts)
        if longest > settings.max_predict_text_chars:
            raise _invalid(("texts",), f"a text of {longest} characters exceeds this server's limit "
                                       f"max_predict_text_chars={settings.max_predict_text_chars}")
        return texts_csv(body.texts), ".csv", "texts", ""
    if content_type != "multipart/form-data":
        raise HTTPException(415, "send multipart/form-data with a file field, or application/json "
                                 "{\"texts\": [...]}")
    form = await request.form(max_files=1, max_fields=5)
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise _invalid(("file",), "multipart body has no file field named 'file'")
    try:
        suffix = upload_suffix(upload.filename)
    except PredictFailure as exc:
        raise _invalid(("file",), exc.detail) from None
    data = await upload.read()
    if not data:
        raise _invalid(("file",), f"uploaded file {upload.filename!r} is empty")
    return data, suffix, "file", Path(upload.filename or "").name
