"""Download generated videos (and thumbnails) to any object storage, and return a manifest.

The operator orchestrates; the manifest (``core.manifest``, pure) and the fetching (``hooks.files``)
are their own modules. Kept cheap to import: httpx and PyAV load when the task runs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowFailException
from airflow.sdk import BaseOperator, ObjectStoragePath

from airflow_provider_vidgen import xcom
from airflow_provider_vidgen.core.batch import check_min_success, required_successes
from airflow_provider_vidgen.core.errors import InvalidInputError
from airflow_provider_vidgen.core.manifest import (
    DONE_STATES,
    FailureEntry,
    FileEntry,
    Manifest,
    PlannedFile,
    collect_generations,
    collect_results,
    count_generations,
    invalid_video,
    map_states,
    parse_result,
    plan_downloads,
    summary_line,
    unexplained_failures,
)
from airflow_provider_vidgen.core.results import TaskError, TaskResult
from airflow_provider_vidgen.links import RunVideosLink
from airflow_provider_vidgen.storage import keep_small, load_all, load_results

if TYPE_CHECKING:
    from airflow.sdk import Context


DEFAULT_MAX_BYTES = 2 * 1024**3  # 2 GiB per file (hooks.files.DEFAULT_MAX_BYTES, not imported: httpx)


def __getattr__(name: str) -> Any:
    if name == "DownloadError":  # lives with the fetching (hooks.files), which imports httpx
        from airflow_provider_vidgen.hooks.files import DownloadError

        return DownloadError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def xcom_sources(value: Any) -> list[str]:
    """Task ids of the upstream tasks whose XCom ``results`` refers to (``generate.output``, ...)."""
    from airflow.sdk import XComArg

    found: list[str] = []

    def walk(item: Any, depth: int) -> None:
        if isinstance(item, XComArg):
            for operator, _key in item.iter_references():
                if operator.task_id not in found:
                    found.append(operator.task_id)
        elif depth < 5 and isinstance(item, list | tuple | set):
            for element in item:
                walk(element, depth + 1)
        elif depth < 5 and isinstance(item, Mapping):
            for element in item.values():
                walk(element, depth + 1)

    walk(value, 0)
    return found


def pull_whole_results(value: Any, context: Any, depth: int = 0) -> Any:
    """``value`` with every ``task.output`` in it replaced by all that task's values (a list; None absent)."""
    from airflow.sdk.definitions.xcom_arg import PlainXComArg

    if isinstance(value, PlainXComArg):
        values = context["ti"].xcom_pull(task_ids=[value.operator.task_id], key=value.key)
        return [item for item in values or () if item is not None]
    if depth < 5 and isinstance(value, list | tuple):
        return [pull_whole_results(item, context, depth + 1) for item in value]
    return value


def destination_path(value: Any, conn_id: str | None = None) -> ObjectStoragePath:
    """The (rendered) destination as an ObjectStoragePath; a plain absolute path means ``file://``."""
    if isinstance(value, ObjectStoragePath):
        text = str(value)
        if not text.strip() or (not value.protocol and not value.path.startswith("/")):
            raise InvalidInputError("destination", f"must be an absolute path or a URI, got {text!r}")
        if conn_id and not value.conn_id:
            return ObjectStoragePath(text, conn_id=conn_id)
        return value
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(
            "destination", f"must be a folder URI such as file:///data/videos or s3://bucket/prefix, got {value!r}"
        )
    text = value.strip()
    if "{{" in text or "{%" in text:
        raise InvalidInputError("destination", f"was not rendered (template left in {text!r})")
    if "://" not in text:
        if not text.startswith("/"):
            raise InvalidInputError("destination", f"must be an absolute path or a URI, got {text!r}")
        text = f"file://{text}"
    return ObjectStoragePath(text, conn_id=conn_id) if conn_id else ObjectStoragePath(text)


def check_destination_prefix(value: Any) -> None:
    """What a DAG file fixes of ``destination``, checked when it is parsed: a relative folder would
    otherwise be refused only in the download step, after every generation was paid for.

    A literal string is checked whole; a templated one by its literal part before the first template,
    once that part has a folder separator (``videos/{{ run_id }}/`` is relative, ``{{ var }}/x`` can't tell).
    """
    if not isinstance(value, str):
        return  # an ObjectStoragePath is absolute by construction; XComArgs are resolved when the task runs
    text = value.strip()
    cut = min((text.find(mark) for mark in ("{{", "{%") if mark in text), default=-1)
    literal = text if cut < 0 else text[:cut]
    if "://" in literal or literal.startswith("/"):
        return
    if cut < 0 or "/" in literal:
        raise InvalidInputError(
            "destination",
            f"must be an absolute path or a URI (e.g. /data/videos/{{{{ run_id }}}}/, file:///data/videos/, "
            f"s3://bucket/videos/), got the relative {value!r}",
        )


def upstream_failures(
    context: Any, sources: Sequence[str], results: list[TaskResult], prompts: Mapping[str, str]
) -> list[FailureEntry]:
    """Every generation of the upstream tasks in ``results`` that has no result: from their ``failure`` XCom,
    and one per task instance that failed or never ran without leaving one (``unexplained_failures``).

    Pulls whole XCom sequences (one request per key and task, never a missing item), so a run whose
    generations all succeed logs no XCom error.
    """
    ti = context.get("ti")
    if not sources or ti is None or not hasattr(ti, "get_task_states"):
        return []
    known = {result.task_id for result in results}
    entries: list[FailureEntry] = []
    for upstream in sources:
        pulled = load_results(ti.xcom_pull(task_ids=[upstream], key=xcom.FAILURE) or [])  # batches' lists too
        explained = {item["map_index"] for item in pulled if isinstance(item.get("map_index"), int)}
        for item in pulled:
            entry = failure_entry(item, upstream)
            if entry is not None and (entry.task_id is None or entry.task_id not in known):
                known.add(entry.task_id or "")
                entries.append(entry)
        raw = ti.get_task_states(dag_id=ti.dag_id, task_ids=[upstream], run_ids=[ti.run_id])
        states = map_states(upstream, (raw or {}).get(ti.run_id, {}))
        if any(state not in DONE_STATES and index not in explained for index, state in states.items()):
            submitted = [i for i in ti.xcom_pull(task_ids=[upstream], key=xcom.VENDOR_TASK_ID) or [] if i]
            extra = unexplained_failures(upstream, states, explained, known, submitted)
            known.update(entry.task_id for entry in extra if entry.task_id)
            entries.extend(extra)
    return entries


def failure_entry(item: Mapping[str, Any], upstream: str) -> FailureEntry | None:
    """A ``failure`` XCom item as a manifest failure; a batch item that was never submitted has no vendor
    task id and is named by its task instance and position (None: not a generation result)."""
    prompt = item.get("prompt") if isinstance(item.get("prompt"), str) else None
    index = item.get("map_index", -1)
    where = f"{upstream}[{index}]" if isinstance(index, int) and index >= 0 else upstream
    if item.get("task_id"):
        try:
            return FailureEntry.of(parse_result(item), prompt, where)
        except InvalidInputError:
            return None
    error = item.get("error")
    if not isinstance(error, Mapping) or not {"code", "message"} <= set(error):
        return None
    subject = f"{where} item {item['index']}" if isinstance(item.get("index"), int) else where
    return FailureEntry(
        None, item.get("vendor"), item.get("service"), "failed", TaskError(str(error["code"]), str(error["message"])),
        prompt, subject,
    )  # fmt: skip


class VideoDownloadOperator(BaseOperator):
    """Download every generated video to a folder on any object storage; prove each is a video; report all.

    :param results: what generation tasks returned (templated): ``generate.output`` of an operator,
        a mapped operator or the sensor, or a list of those (``[hailuo.output, wait.output]``).
    :param destination: folder to write into (templated), e.g.
        ``"file:///data/videos/{{ run_id }}/"``, ``"s3://bucket/videos/{{ dag_run.run_after | ds }}/"``
        or an ``ObjectStoragePath`` (whose path is templated too). ``{{ ds }}`` fails in runs without
        a logical date (triggered from the UI or the REST API). A relative folder is a DAG import error.
    :param destination_conn_id: connection for the object store when ``destination`` is a string
        (same as ``ObjectStoragePath(..., conn_id=...)``).
    :param include_thumbnails: also download each video's thumbnail (used as its poster).
    :param posters: extract a poster frame (JPEG) from each video that has no downloaded thumbnail.
    :param max_bytes: largest file accepted; a bigger one aborts the task and leaves nothing behind.
    :param min_success: succeed when at least this many generations were downloaded (an int), or this share
        of the generations asked for (a float, 0 < x <= 1); replaces ``fail_on_failed`` when given, as in the
        batch operators.
    :param fail_on_failed: without ``min_success``: fail the task when any generation asked for has no
        usable video (it failed, never ran, or its file is not a video) (default), or succeed and list them.
    :param manifest_name: write the manifest as JSON into the destination under this name (None: don't).
    :param gallery_name: write a self-contained HTML gallery of the folder under this name (None: don't).
    :param request_timeout: seconds without progress before a download is abandoned.
    :param download_retries: extra attempts per file on connection errors and 5xx/429 answers.
    :param media_conn_ids: the vendor connections whose ``private_media_hosts`` (and own host, when it is
        private: the emulator) may serve media from private addresses. Default: the default connection of
        each vendor in ``results``. Every other URL, and every redirect, must resolve to a public address.

    Runs with ``trigger_rule="all_done"`` by default, so a failed mapped generation does not stop the
    others from being downloaded, and the missing ones are counted, named and then fail this task (by
    default). Every map index of the upstream tasks in ``results`` is accounted for: failed generations
    come from their ``failure`` XCom, and each task instance that failed or never ran without one counts
    as one generation asked for. The files that did download are kept and listed in the manifest
    (written, and pushed as ``return_value``, before the task fails), so clearing the failed generation
    tasks together with this task finishes the set without downloading a file twice.

    Files are named ``<vendor>_<task id>_<index>.mp4`` (thumbnails ``..._<index>_thumb.jpg``, posters
    ``..._<index>_poster.jpg``) and written under a temporary name, then renamed, so a reader never
    sees a partial file. Every video is probed with PyAV before the rename (container, codec, size,
    duration, every declared frame present); a file that is not a complete video (an HTML error page,
    a truncated file) is never kept and its generation is listed as failed (``invalid_video``).

    Returns (XCom) the manifest: ``{destination, run_id, generations, downloaded, failed, never_ran, bytes,
    files: [...], failures: [...], manifest, gallery}``. When the task has asset ``outlets``, each
    asset event carries ``{destination, files, new_files, bytes, failed, manifest, gallery}`` as its ``extra``.
    """

    template_fields: Sequence[str] = ("results", "destination", "destination_conn_id")
    template_fields_renderers = {"results": "py"}
    ui_color = "#e4f0ff"
    operator_extra_links = (RunVideosLink(),)

    def __init__(
        self,
        *,
        results: Any,
        destination: str | ObjectStoragePath,
        destination_conn_id: str | None = None,
        include_thumbnails: bool = False,
        posters: bool = True,
        max_bytes: int = DEFAULT_MAX_BYTES,
        min_success: int | float | None = None,
        fail_on_failed: bool = True,
        manifest_name: str | None = "manifest.json",
        gallery_name: str | None = "gallery.html",
        request_timeout: float = 60.0,
        download_retries: int = 2,
        media_conn_ids: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> None:
        if "fail_on_missing" in kwargs:  # renamed before the first release: say so, not "invalid arguments"
            raise TypeError(
                "VideoDownloadOperator: fail_on_missing= is now fail_on_failed= (True by default) or min_success="
            )
        kwargs.setdefault("trigger_rule", "all_done")
        super().__init__(**kwargs)
        self.results = results
        self.destination = destination
        self.destination_conn_id = destination_conn_id
        self.include_thumbnails = include_thumbnails
        self.posters = posters
        self.max_bytes = max_bytes
        self.min_success = min_success
        self.fail_on_failed = fail_on_failed
        self.manifest_name = manifest_name
        self.gallery_name = gallery_name
        self.request_timeout = request_timeout
        self.download_retries = download_retries
        self.media_conn_ids = media_conn_ids
        self.written: Manifest | None = None  # what this task wrote (for its lineage)
        self.result_sources = xcom_sources(results)  # before rendering replaces the XComArgs
        if not kwargs.get("_airflow_from_mapped"):
            try:
                check_destination_prefix(destination)
                check_min_success(min_success)
            except InvalidInputError as err:
                where = f"{type(self).__name__} task {self.task_id!r}, checked when the DAG was parsed"
                raise InvalidInputError(err.field, f"{err.problem} ({where})") from None

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        # Pull each upstream's return values in one request for all its map indexes (a missing value
        # is simply absent), instead of Airflow's default resolution: that asks for one item past the
        # end of a mapped result, and for the value of a failed task, each logged as "XCom not found".
        self.results = pull_whole_results(self.results, context)
        super().render_template_fields(context, jinja_env)

    def _check_settings(self) -> None:
        if isinstance(self.max_bytes, bool) or not isinstance(self.max_bytes, int) or self.max_bytes <= 0:
            raise InvalidInputError("max_bytes", f"must be a positive number of bytes, got {self.max_bytes!r}")
        if not isinstance(self.request_timeout, int | float) or self.request_timeout <= 0:
            raise InvalidInputError(
                "request_timeout", f"must be a positive number of seconds, got {self.request_timeout!r}"
            )
        check_min_success(self.min_success)
        retries = self.download_retries
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise InvalidInputError("download_retries", f"must be an integer >= 0, got {retries!r}")
        for field in ("manifest_name", "gallery_name"):
            value = getattr(self, field)
            if value is not None and (not isinstance(value, str) or not value.strip() or "/" in value):
                raise InvalidInputError(field, f"must be a plain file name, got {value!r}")

    # ------------------------------------------------------------------ execute

    def execute(self, context: Context) -> dict[str, Any]:
        try:  # all input is checked before anything is downloaded
            self._check_settings()
            destination = destination_path(self.destination, self.destination_conn_id)
            results, prompts = collect_generations(load_all(self.results))
        except InvalidInputError as err:
            raise AirflowFailException(f"invalid input: {err}") from None

        failures = upstream_failures(context, self.result_sources, results, prompts)
        planned, missing = plan_downloads(results, include_thumbnails=self.include_thumbnails)
        known = {entry.task_id for entry in failures}
        failures = [FailureEntry.of(r, prompts.get(r.task_id)) for r in missing if r.task_id not in known] + failures
        manifest = Manifest(str(destination), context.get("run_id"), count_generations(results, failures))
        for entry in failures:
            self.log.warning("No video to download from %s", entry.text())
        if not results and not failures:
            self.log.warning("No generation results were given; nothing to download")

        self.log.info("Downloading %d file(s) to %s", len(planned), destination)
        if destination.protocol in ("file", "local"):
            destination.mkdir(parents=True, exist_ok=True)
        manifest.files, invalid = self._download_all(planned, destination, prompts)
        manifest.failures = failures + invalid
        self.written = manifest
        return self._report(context, manifest, destination, invalid)

    def _report(
        self, context: Context, manifest: Manifest, destination: ObjectStoragePath, invalid: list[FailureEntry]
    ) -> dict[str, Any]:
        """Write the manifest and the gallery, tell the assets and the log; fail (after all that) when fewer
        generations were downloaded than ``min_success`` / ``fail_on_failed`` require."""
        from airflow_provider_vidgen.hooks.files import FileFetchHook

        manifest.manifest = str(destination / self.manifest_name) if self.manifest_name else None
        manifest.gallery = str(destination / self.gallery_name) if self.gallery_name else None
        data = manifest.to_dict()
        if self.gallery_name:
            from airflow_provider_vidgen.core.gallery import render_gallery

            html = render_gallery(data, title=f"Videos of {self.dag_id}" if self.has_dag() else "Videos")
            FileFetchHook.write(destination / self.gallery_name, html.encode())
        written = None
        if self.manifest_name:
            text = json.dumps(data, indent=2).encode()
            written = (FileFetchHook.write(destination / self.manifest_name, text), text)
        self._annotate_outlets(context, data)
        new = sum(not entry.existing for entry in manifest.files)
        self.log.info(
            "%d file(s) at %s (%d downloaded, %d already complete, %d bytes)",
            len(manifest.files), destination, new, len(manifest.files) - new, manifest.bytes,
        )  # fmt: skip
        line = manifest.summary()
        (self.log.warning if manifest.failures else self.log.info)("%s", line)
        if manifest.gallery:
            self.log.info("Gallery: %s", manifest.gallery)
        keys = ("destination", "generations", "downloaded", "failed", "never_ran", "bytes", "gallery")
        kept = keep_small(data, context, "manifest", summary={key: data[key] for key in keys}, written=written)
        required = required_successes(
            manifest.generations, min_success=self.min_success, fail_on_failed=self.fail_on_failed
        )
        if manifest.downloaded < required:
            # A failed task pushes no return value: push the manifest so the Videos tab and downstream
            # all_done tasks still see what was downloaded.
            context["ti"].xcom_push(key="return_value", value=kept)
            raise AirflowFailException(self._shortfall(manifest, required))
        return kept

    def _shortfall(self, manifest: Manifest, required: int) -> str:
        """Why the task fails: the counts, each missing generation and its error, and what to do next."""
        failed = len(manifest.failures) - manifest.never_ran
        tasks = sorted({entry.upstream.partition(" ")[0] for entry in manifest.failures if entry.upstream})
        clear = f"the generation task(s) {', '.join(tasks)}" if tasks else "the failed generation task(s)"
        return (
            f"{manifest.generations} generation(s) asked for: {manifest.downloaded} downloaded, {failed} failed, "
            f"{manifest.never_ran} never ran; {required} must succeed (min_success={self.min_success!r}, "
            f"fail_on_failed={self.fail_on_failed}). Missing: "
            + "; ".join(entry.text() for entry in manifest.failures)
            + f". What was downloaded is kept ({len(manifest.files)} file(s))"
            + (f" and listed in {manifest.manifest}" if manifest.manifest else "")
            + f". Next: fix the cause, then clear {clear} together with this task ({self.task_id!r}): "
            "the files already complete are not downloaded again. To accept missing videos, set "
            "min_success= or fail_on_failed=False on this task."
        )

    def _download_all(
        self, planned: list[PlannedFile], destination: ObjectStoragePath, prompts: Mapping[str, str]
    ) -> tuple[list[FileEntry], list[FailureEntry]]:
        """Download and probe every planned file, then make the posters; returns the file entries and the
        failures of videos that are not videos (their thumbnails are dropped: they are of no use)."""
        from airflow_provider_vidgen.core.media import InvalidVideoError
        from airflow_provider_vidgen.hooks.files import FileFetchHook, media_policy

        files: list[FileEntry] = []
        invalid: list[FailureEntry] = []
        bad: set[tuple[str, int]] = set()
        policy = media_policy(media_conn_ids(self.media_conn_ids, planned))
        with FileFetchHook(
            request_timeout=self.request_timeout,
            retries=self.download_retries,
            max_bytes=self.max_bytes,
            policy=policy,
        ) as fetcher:
            for item in planned:
                key = (item.result.task_id, item.index)
                if key in bad:
                    continue
                target = destination / item.name
                try:
                    fetched = fetcher.fetch(item.source_url, target, probe=item.kind == "video")
                except InvalidVideoError as err:
                    bad.add(key)
                    files = [entry for entry in files if (entry.task_id, entry.index) != key]
                    invalid.append(invalid_video(item, err.reason, prompts.get(item.result.task_id)))
                    continue
                entry = FileEntry.of(item, str(target), fetched.size, fetched.sha256, fetched.existing,
                                     prompts.get(item.result.task_id))  # fmt: skip
                files.append(entry if fetched.video is None else _with_video(entry, fetched.video))
        if self.posters:
            files.extend(self._make_posters(files, destination))
        return files, invalid

    def _make_posters(self, files: list[FileEntry], destination: ObjectStoragePath) -> list[FileEntry]:
        """A JPEG frame for every video without a downloaded thumbnail (kept when already there)."""
        import hashlib

        from airflow_provider_vidgen.core.media import InvalidVideoError, extract_poster
        from airflow_provider_vidgen.hooks.files import FileFetchHook, size_or_none

        thumbs = {(entry.task_id, entry.index) for entry in files if entry.kind == "thumbnail"}
        posters = []
        for video in [e for e in files if e.kind == "video" and (e.task_id, e.index) not in thumbs]:
            name = f"{video.name.rpartition('.')[0]}_poster.jpg"
            target = destination / name
            existing = video.existing and bool(size_or_none(target))
            if existing:
                data = target.read_bytes()
            else:
                try:
                    with ObjectStoragePath(video.destination_uri).open("rb") as handle:
                        data = extract_poster(handle)
                except InvalidVideoError as err:
                    self.log.warning("No poster for %s: %s", video.destination_uri, err)
                    continue
                FileFetchHook.write(target, data)
            posters.append(video.poster(name, str(target), len(data), hashlib.sha256(data).hexdigest(), existing))
        return posters

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Inputs: the vendor's URLs it fetched; outputs: every file it wrote (``lineage``)."""
        from airflow_provider_vidgen import lineage

        files = self.written.files if self.written is not None else []
        inputs = [lineage.url_dataset(entry.source_url) for entry in files]
        outputs = [lineage.storage_dataset(entry.destination_uri) for entry in files]
        return lineage.operator_lineage(inputs, outputs)

    def _annotate_outlets(self, context: Context, manifest: Mapping[str, Any]) -> None:
        """Say in every asset event what landed where, so a downstream DAG needs no XCom."""
        from airflow.sdk import Asset

        assets = [outlet for outlet in self.outlets or () if isinstance(outlet, Asset)]
        events = context.get("outlet_events")
        if not assets or events is None:
            return
        files = manifest["files"]
        extra = {
            "destination": manifest["destination"],
            "files": len(files),
            "new_files": sum(not entry["existing"] for entry in files),
            "bytes": manifest["bytes"],
            "failed": manifest["failed"],
            "manifest": manifest["manifest"],
            "gallery": manifest["gallery"],
        }
        for asset in assets:
            events[asset].extra.update(extra)


def media_conn_ids(given: Sequence[str] | None, planned: Sequence[PlannedFile]) -> list[str]:
    """The connections asked which private hosts may serve media: those given, else the default connection of
    each vendor whose files are planned."""
    if given is not None:
        return list(given)
    from airflow_provider_vidgen.core.vendor import get_vendor

    found: list[str] = []
    for item in planned:
        try:
            conn_id = get_vendor(item.result.vendor).default_conn_id
        except InvalidInputError:  # a vendor this process does not know: no connection to ask
            continue
        if conn_id not in found:
            found.append(conn_id)
    return found


def _with_video(entry: FileEntry, video: Mapping[str, Any]) -> FileEntry:
    from dataclasses import replace

    return replace(entry, video=dict(video))


__all__ = [
    "DEFAULT_MAX_BYTES",
    "VideoDownloadOperator",
    "collect_generations",
    "collect_results",
    "plan_downloads",
    "summary_line",
    "unexplained_failures",
]
