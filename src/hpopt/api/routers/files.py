"""A job's run folder: list, fetch one file, or download all as a streamed ZIP."""

from __future__ import annotations

import mimetypes
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, StreamingResponse

from hpopt.api.deps import JobDep, ManagerDep, errors
from hpopt.api.files import UnsafePath, list_files, safe_file, zip_stream
from hpopt.api.schemas import FilesOut
from hpopt.api.security import require_api_key
from hpopt.jobs.job_files import LOG_FILE

router = APIRouter(prefix="/jobs/{job_id}", tags=["files"], dependencies=[Depends(require_api_key)])
_BINARY = {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}


@router.get("/files", response_model=FilesOut, responses=errors(404), summary="Files of the run folder")
async def files(record: JobDep, manager: ManagerDep) -> dict:
    return {"job_id": record.job_id, "run_name": record.run_name, "files": list_files(manager.run_dir(record))}


@router.get("/files/{path:path}", response_class=FileResponse, summary="One file of the run folder",
            responses={**errors(400, 404), 200: {"description": "the file's bytes", **_BINARY}})
async def file(
    record: JobDep,
    manager: ManagerDep,
    path: str = PathParam(description="relative to the run folder, e.g. summary.json or plots/trial_0/x.png"),
) -> FileResponse:
    """Paths never leave the run folder: absolute paths, '..', encoded variants and
    symlinks that lead outside are refused."""
    try:
        found = safe_file(manager.run_dir(record), path)
    except UnsafePath as exc:
        raise HTTPException(status_code=400, detail=f"path {path!r} refused: {exc}") from None
    if found is None:
        raise HTTPException(status_code=404, detail=f"no file {path!r} in run {record.run_name}; GET "
                            f"/jobs/{record.job_id}/files lists them")
    media_type = mimetypes.guess_type(found.name)[0] or "application/octet-stream"
    return FileResponse(found, media_type=media_type)


@router.get("/download", response_class=StreamingResponse, summary="The run folder as a ZIP",
            responses={**errors(404), 200: {"description": "ZIP of <run_name>/...",
                                            "content": {"application/zip": {"schema": {"type": "string",
                                                                                       "format": "binary"}}}}})
async def download(record: JobDep,
                   manager: ManagerDep) -> StreamingResponse:
    """Streamed as it is compressed: no temporary file on the server. Entries are
    ``<run_name>/<path>``, plus ``<run_name>/job.log``, the job process's log (every attempt;
    URL passwords masked as it was written); a running job's folder is zipped as it is now."""
    run_dir = manager.run_dir(record)
    if not run_dir.is_dir():
        raise HTTPException(status_code=404, detail=f"job {record.job_id} has no results yet (status {record.status})")
    extra = {LOG_FILE: manager.job_dir(record.job_id) / LOG_FILE}
    return StreamingResponse(zip_stream(run_dir, record.run_name, extra), media_type="application/zip",
                             headers={"Content-Disposition": _attachment(f"{record.run_name}.zip")})


def _attachment(filename: str) -> str:
    """Content-Disposition for any run name: an ASCII fallback plus the UTF-8 name (RFC 6266)."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
