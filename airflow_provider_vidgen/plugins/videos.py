"""The Videos view of a DAG run, served by Airflow's API server (``/vidgen/dags/<dag>/runs/<run>/...``).

Every route needs Airflow's own permissions to read that DAG's runs and its XComs, as Airflow's XCom API
does (``requires_access_dag``: 401 without credentials, 403 without either; it reads ``dag_id`` from the
path, so a per-DAG user is checked against that DAG). The page and its JSON are built from the run's XComs
(``core.videos``), every value typed and every string escaped. Media is served only as a place in a
download manifest of the same run, and only a file that verifies (``plugins.media``): under
``[vidgen] media_roots``, of the manifest's size and sha256, a video or an image by its first bytes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Annotated, Any

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.core_api.security import requires_access_dag
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from airflow_provider_vidgen import xcom
from airflow_provider_vidgen.core.gallery import render_error_page, render_run_view
from airflow_provider_vidgen.core.videos import VIEW_STATES, RunVideos, XComRow, media_ref, parse_range, run_videos

VIEW_KEYS = ("return_value", xcom.FAILURE, xcom.VENDOR_TASK_ID, xcom.VIDEO_URL)
PER_PAGE = 48
CHUNK = 256 * 1024

router = APIRouter(
    dependencies=[
        Depends(requires_access_dag("GET", DagAccessEntity.RUN)),
        Depends(requires_access_dag("GET", DagAccessEntity.XCOM)),  # the view shows XCom content
    ]
)
NOT_SERVED = "no such file in this run's download manifests"  # every refusal alike: nothing about the file
# The page has no script; whatever a value might smuggle past escaping cannot run. Media load from this
# origin and from the vendors' http(s) URLs; the page may be framed by Airflow's UI only.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self' http: https:; media-src 'self' http: https:; "
        "style-src 'unsafe-inline'; frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the vendors' media hosts learn nothing of Airflow's URLs
}
MEDIA_HEADERS = {
    "Accept-Ranges": "bytes",
    "Cache-Control": "private, max-age=300",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def read_xcoms(dag_id: str, run_id: str, *conditions: Any) -> list[XComRow]:
    """The run's XComs of the view's keys that meet ``conditions`` (404 for a run that does not exist)."""
    from airflow.models.dagrun import DagRun
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        if session.scalar(select(DagRun.id).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)) is None:
            raise HTTPException(404, f"DAG {dag_id!r} has no run {run_id!r}")
        found = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == dag_id, XComModel.run_id == run_id, XComModel.key.in_(VIEW_KEYS), *conditions
            )
        ).all()
        return [XComRow(row.task_id, row.map_index, row.key, XComModel.deserialize_value(row)) for row in found]


def read_run(dag_id: str, run_id: str) -> RunVideos:
    """The run's generations from the metadata DB; downloaded copies only where the view may serve them."""
    from airflow_provider_vidgen.core.served import within
    from airflow_provider_vidgen.plugins.media import media_roots
    from airflow_provider_vidgen.storage import load_results, stored_roots

    roots = media_roots()
    readable = stored_roots() + roots  # stored results, and manifests stored beside their downloads
    videos = run_videos(read_xcoms(dag_id, run_id), lambda value: load_results(value, roots=readable))
    for generation in videos.generations:
        if generation.video is not None and not within(generation.video.destination_uri, roots):
            generation.video = None
        if generation.poster is not None and not within(generation.poster.destination_uri, roots):
            generation.poster = None
    return videos


@dataclass(frozen=True)
class RunPage:
    """One page of a run's Videos view, as the HTML page and its JSON both show it."""

    dag_id: str
    run_id: str
    state: str | None
    task_id: str | None
    page: int
    pages: int
    items: list[dict[str, Any]]
    counts: dict[str, int]
    usage: dict[str, float]


def run_page(
    dag_id: str,
    run_id: str,
    state: str | None = None,
    task_id: str | None = None,
    page: int = Query(1, ge=1),
    per_page: int = Query(PER_PAGE, ge=1, le=500),
) -> RunPage:
    """The page the request asks for (a dependency of both routes: the same query, the same reading)."""
    if state is not None and state not in VIEW_STATES:
        raise HTTPException(422, f"state must be one of {', '.join(VIEW_STATES)}, not {state!r}")
    videos = read_run(dag_id, run_id)
    chosen = videos.select(state=state, task_id=task_id)
    shown = chosen[(page - 1) * per_page : page * per_page]
    return RunPage(
        dag_id, run_id, state, task_id, page, max(1, math.ceil(len(chosen) / per_page)),
        [generation.to_dict() for generation in shown], videos.counts(), videos.usage(),
    )  # fmt: skip


@router.get("/dags/{dag_id}/runs/{run_id}/videos", response_class=HTMLResponse)
def videos_page(view: Annotated[RunPage, Depends(run_page)]) -> HTMLResponse:
    return HTMLResponse(render_run_view(**vars(view)), headers=PAGE_HEADERS)


@router.get("/dags/{dag_id}/runs/{run_id}/videos.json")
def videos_json(view: Annotated[RunPage, Depends(run_page)]) -> JSONResponse:
    return JSONResponse({name: getattr(view, name) for name in ("counts", "usage", "page", "pages", "items")})


@router.get("/dags/{dag_id}/runs/{run_id}/media/{task_id}/{map_index}/{position}")
def media(dag_id: str, run_id: str, task_id: str, map_index: int, position: int, request: Request) -> Response:
    """A file that a download task of this run fetched, with HTTP Range support so a player can seek."""
    from airflow.models.xcom import XComModel

    from airflow_provider_vidgen.plugins.media import verified

    # Only that task instance's return value is read (a player asks for many ranges of one file).
    rows = read_xcoms(
        dag_id, run_id, XComModel.task_id == task_id, XComModel.map_index == map_index, XComModel.key == "return_value"
    )
    ref = media_ref(task_id, map_index, position, rows[0].value) if rows else None
    served = verified(ref) if ref is not None else None
    if served is None:
        raise HTTPException(404, NOT_SERVED)
    size = served.size
    headers = {**MEDIA_HEADERS, "Content-Disposition": served.disposition}
    try:
        wanted = parse_range(request.headers.get("range"), size)
    except ValueError:
        served.handle.close()
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    start, end = wanted if wanted is not None else (0, size - 1)
    headers["Content-Length"] = str(end - start + 1)
    if wanted is not None:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    status = 206 if wanted is not None else 200
    return StreamingResponse(
        _read(served.handle, start, end), status_code=status, headers=headers, media_type=served.media_type
    )


ACCESS_HINT = {
    401: "Log in to Airflow, then open this page again from the run's Videos tab.",
    403: (
        "Your Airflow user may not read this DAG's runs or their XComs. Ask an admin for read access to the DAG, "
        "its runs and its XComs (with the FAB auth manager: can read on DAG:<dag_id>, on DAG Runs, on XComs, "
        "and on Plugins for the tab)."
    ),
}


async def browser_error(request: Request, error: StarletteHTTPException) -> Response:
    """A short page instead of JSON when a browser asks for the view; everything else as FastAPI answers."""
    if "/dags/" not in request.url.path or "text/html" not in request.headers.get("accept", ""):
        return await http_exception_handler(request, error)
    hint = ACCESS_HINT.get(error.status_code, "")
    page = render_error_page(error.status_code, str(error.detail), hint)
    return HTMLResponse(page, status_code=error.status_code, headers=PAGE_HEADERS)


def _read(handle: IO[bytes], start: int, end: int) -> Iterator[bytes]:
    """The bytes ``start``..``end`` of the verified file's own handle (closed when done or abandoned)."""
    left = end - start + 1
    with handle:
        handle.seek(start)
        while left > 0:
            data = handle.read(min(CHUNK, left))
            if not data:
                return
            left -= len(data)
            yield data
