"""``gallery.html``: one self-contained page for a download folder (pure: manifest in, HTML out).

No script, no external stylesheet, font or image: every link is relative to the folder, so the page
keeps working offline, after the vendor's URLs expire, and when the folder is copied elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any
from urllib.parse import quote

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;background:#f6f7f9;color:#1d2430}
h1{font-size:22px;margin:0 0 4px}
.sub{color:#5b6475;margin:0 0 20px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:16px}
.card{background:#fff;border:1px solid #dde1e8;border-radius:8px;overflow:hidden}
.card video{display:block;width:100%;aspect-ratio:16/9;background:#111;object-fit:contain}
.meta{padding:10px 12px;font-size:13px}
.prompt{font-size:14px;font-weight:600;margin:0 0 6px}
.meta dl{display:grid;grid-template-columns:auto 1fr;gap:2px 10px;margin:0}
.meta dt{color:#5b6475}.meta dd{margin:0;overflow-wrap:anywhere}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
.failures{margin-top:28px}
.failures h2{font-size:18px;color:#a4262c}
table{border-collapse:collapse;background:#fff;font-size:13px;width:100%}
th,td{border:1px solid #dde1e8;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f0f2f5}
.posterlink{font-size:12px}
"""


def human_bytes(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def _href(name: str) -> str:
    return escape(quote(str(name)), quote=True)


def _resolution(width: Any, height: Any) -> str:
    """``WxH`` from two numbers; "-" for anything else (values may come from outside: never printed raw)."""
    numbers = all(isinstance(value, int) and not isinstance(value, bool) for value in (width, height))
    if numbers and width:
        return f"{width}x{height}"
    return "-"


def _seconds(value: Any) -> str:
    return f"{value:.1f} s" if isinstance(value, int | float) and not isinstance(value, bool) else "-"


def gallery_items(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One item per downloaded video: its file entry plus the name of its poster (thumbnail or frame)."""
    files = list(manifest.get("files") or [])
    images: dict[tuple[str, int], str] = {}
    for entry in files:
        if entry.get("kind") in ("thumbnail", "poster"):
            key = (entry["task_id"], entry["index"])
            # A vendor's thumbnail wins over an extracted frame.
            if entry["kind"] == "thumbnail" or key not in images:
                images[key] = entry["name"]
    return [
        {**entry, "poster_name": images.get((entry["task_id"], entry["index"]))}
        for entry in files
        if entry.get("kind") == "video"
    ]


def render_gallery(manifest: Mapping[str, Any], *, title: str = "Generated videos") -> str:
    """The HTML page: a card per video (poster, player, prompt, service, vendor task id, size,
    duration, resolution, codec) and a table of every failure with its vendor task id and error."""
    items = gallery_items(manifest)
    failures = list(manifest.get("failures") or [])
    cards = []
    for item in items:
        video = item.get("video") or {}
        poster = item.get("poster_name")
        poster_attr = f' poster="{_href(poster)}"' if poster else ""
        resolution = _resolution(video.get("width"), video.get("height"))
        duration = _seconds(video.get("duration"))
        codec = escape(" / ".join(str(c) for c in (video.get("codec"), video.get("audio_codec")) if c) or "-")
        prompt = item.get("prompt")
        cards.append(
            f"""<article class="card" data-task-id="{escape(str(item["task_id"]), quote=True)}">
<video controls preload="metadata"{poster_attr}><source src="{_href(item["name"])}" type="video/mp4"></video>
<div class="meta">
<p class="prompt">{escape(prompt) if prompt else "<i>(prompt not recorded)</i>"}</p>
<dl>
<dt>Service</dt><dd>{escape(str(item["vendor"]))} {escape(str(item["service"]))}</dd>
<dt>Task id</dt><dd><code>{escape(str(item["task_id"]))}</code></dd>
<dt>File</dt><dd><a href="{_href(item["name"])}">{escape(str(item["name"]))}</a></dd>
<dt>Size</dt><dd>{human_bytes(item.get("bytes") if isinstance(item.get("bytes"), int) else None)}</dd>
<dt>Duration</dt><dd>{duration}</dd>
<dt>Resolution</dt><dd>{resolution}</dd>
<dt>Codec</dt><dd>{codec}</dd>
</dl>
{f'<a class="posterlink" href="{_href(poster)}">poster</a>' if poster else ""}
</div>
</article>"""
        )
    rows = []
    for failure in failures:
        error = failure.get("error") or {}
        where = failure.get("upstream") or "-"
        rows.append(
            "<tr>"
            f"<td><code>{escape(str(failure.get('task_id') or '-'))}</code></td>"
            f"<td>{escape(' '.join(str(x) for x in (failure.get('vendor'), failure.get('service')) if x) or '-')}</td>"
            f"<td>{escape(str(where))}</td>"
            f"<td>{escape(str(failure.get('prompt') or '-'))}</td>"
            f"<td><code>{escape(str(error.get('code') or '-'))}</code></td>"
            f"<td>{escape(str(error.get('message') or '-'))}</td>"
            "</tr>"
        )
    generations = manifest.get("generations", len(items) + len(failures))
    summary = f"{manifest.get('downloaded', len(items))} of {generations} generations downloaded"  # escaped below
    summary += f"; {len(failures)} failed" if failures else ""
    failures_html = ""
    if rows:
        failures_html = f"""<section class="failures">
<h2>Failures ({len(rows)})</h2>
<table><thead><tr><th>Vendor task id</th><th>Service</th><th>Airflow task</th><th>Prompt</th><th>Code</th>
<th>Message</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
</section>"""
    subtitle = " · ".join(
        escape(str(part)) for part in (summary, manifest.get("run_id"), manifest.get("destination")) if part
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>{escape(title)}</h1>
<p class="sub">{subtitle}</p>
<main class="grid">
{chr(10).join(cards) if cards else "<p>No video was downloaded.</p>"}
</main>
{failures_html}
</body>
</html>
"""


__all__ = ["gallery_items", "human_bytes", "render_gallery"]


# ------------------------------------------------------------------------------------------------
# The Videos view of a DAG run (served by the plugin; links are relative to the page's URL)
# ------------------------------------------------------------------------------------------------

_VIEW_CSS = """
nav.filters a{margin-right:12px}nav.filters a.on{font-weight:700}
.state{font-weight:600}.state-failed{color:#a4262c}.state-succeeded{color:#217a3c}.state-pending{color:#8a6d00}
.pager{margin:20px 0}.pager a{margin-right:12px}
.error{color:#a4262c;font-size:12px}
"""


def render_run_view(
    *,
    dag_id: str,
    run_id: str,
    items: list[dict[str, Any]],
    counts: Mapping[str, int],
    usage: Mapping[str, float],
    state: str | None,
    task_id: str | None,
    page: int,
    pages: int,
) -> str:
    """The Videos page of one run: totals, a state filter, a card per generation (a poster and a player,
    prompt, vendor, service, vendor task id, state, duration, resolution, usage, the error), and paging.
    Posters load lazily and players fetch nothing until played, so a page of a 1,000-video run is light."""

    def link(**changes: Any) -> str:
        query = {"state": state, "task_id": task_id, "page": page, **changes}
        text = "&".join(f"{key}={quote(str(value))}" for key, value in query.items() if value not in (None, "", 1))
        return "videos" + (f"?{text}" if text else "")

    filters = [f'<a class="{"on" if state is None else ""}" href="{escape(link(state=None, page=1))}">'
               f"all ({counts.get('total', 0)})</a>"]  # fmt: skip
    for name in ("succeeded", "failed", "pending"):
        filters.append(
            f'<a class="{"on" if state == name else ""}" href="{escape(link(state=name, page=1))}">'
            f"{name} ({counts.get(name, 0)})</a>"
        )
    cards = [_run_card(item) for item in items]
    spent = ", ".join(f"{key} {value:g}" for key, value in sorted(usage.items())) or "not reported by the vendors"
    pager = []
    if page > 1:
        pager.append(f'<a href="{escape(link(page=page - 1))}">previous</a>')
    if page < pages:
        pager.append(f'<a href="{escape(link(page=page + 1))}">next</a>')
    scope = f" · task {escape(task_id)}" if task_id else ""
    empty = "" if cards else "<p>No generations here.</p>"
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Videos · {escape(dag_id)}</title>
<style>{_CSS}{_VIEW_CSS}</style>
</head>
<body>
<h1>Videos</h1>
<p class="sub">{escape(dag_id)} · {escape(run_id)}{scope} · usage: {escape(spent)}</p>
<nav class="filters">{"".join(filters)}</nav>
<main class="grid">
{chr(10).join(cards)}
</main>
{empty}
<p class="pager">page {page} of {pages} {" ".join(pager)}</p>
</body>
</html>
"""


def _run_card(item: Mapping[str, Any]) -> str:
    source = item.get("video") or item.get("video_url")
    poster = item.get("poster") or item.get("thumbnail_url")
    player = ""
    if source:
        poster_attr = f' poster="{escape(poster, quote=True)}"' if poster else ""
        player = f'<video controls preload="none"{poster_attr}><source src="{escape(source, quote=True)}"></video>'
    elif poster:
        player = f'<img loading="lazy" src="{escape(poster, quote=True)}" alt="">'
    resolution = _resolution(item.get("width"), item.get("height"))
    length = _seconds(item.get("duration"))
    usage = ", ".join(f"{key} {value:g}" for key, value in sorted((item.get("usage") or {}).items())) or "-"
    error = item.get("error") or {}
    code, message = escape(str(error.get("code") or "-")), escape(str(error.get("message") or ""))
    error_html = f'<p class="error"><code>{code}</code> {message}</p>' if error else ""
    copy = "downloaded copy" if item.get("video") else ("vendor URL" if source else "-")
    where = escape(str(item.get("airflow_task_id") or "-"))
    if isinstance(item.get("map_index"), int) and item["map_index"] >= 0:
        where += f" [{item['map_index']}]"
    prompt = item.get("prompt")
    state = escape(str(item.get("state") or "-"))
    vendor_task_id = escape(str(item.get("vendor_task_id") or ""), quote=True)
    return f"""<article class="card" data-vendor-task-id="{vendor_task_id}" data-state="{state}">
{player}
<div class="meta">
<p class="prompt">{escape(prompt) if prompt else "<i>(prompt not recorded)</i>"}</p>
{error_html}<dl>
<dt>State</dt><dd class="state state-{state}">{state}</dd>
<dt>Service</dt><dd>{escape(str(item.get("vendor") or "-"))} {escape(str(item.get("service") or ""))}</dd>
<dt>Task id</dt><dd><code>{escape(str(item.get("vendor_task_id") or "-"))}</code></dd>
<dt>Airflow task</dt><dd>{where}</dd>
<dt>Duration</dt><dd>{length}</dd>
<dt>Resolution</dt><dd>{resolution}</dd>
<dt>Usage</dt><dd>{escape(usage)}</dd>
<dt>Playing</dt><dd>{copy}</dd>
</dl>
</div>
</article>"""


def render_error_page(status: int, detail: str, hint: str) -> str:
    """The Videos view's answer to a browser that may not see it (401, 403) or asked for what is not there."""
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{status} · Videos</title><style>{_CSS}</style></head>
<body>
<h1>{status}: {escape(detail)}</h1>
<p class="sub">{escape(hint)}</p>
</body>
</html>
"""
