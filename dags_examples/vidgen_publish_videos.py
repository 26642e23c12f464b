"""Runs whenever ``vidgen_content_pipeline`` lands new videos (asset ``vidgen://videos/daily``).

It reads the manifest named in the asset event, checks every file's size and sha256, names every
failed generation, and writes a ``playlist.m3u`` next to the videos: the place to hook in a CMS
upload, a review queue, etc.
"""

from __future__ import annotations

import hashlib
import json

import pendulum
from airflow.sdk import DAG, Asset, ObjectStoragePath, task

DAILY_VIDEOS = Asset(uri="vidgen://videos/daily", name="vidgen_daily_videos")  # same as the producer's

with DAG(
    "vidgen_publish_videos",
    schedule=[DAILY_VIDEOS],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["vidgen", "example"],
    doc_md=__doc__,
) as dag:

    @task
    def publish(**context) -> list[dict]:
        published = []
        for event in context["triggering_asset_events"][DAILY_VIDEOS]:
            extra = event.extra or {}
            if not extra.get("manifest"):
                print(f"Event from {event.source_dag_id}/{event.source_run_id} names no manifest; skipped")
                continue
            manifest = json.loads(ObjectStoragePath(extra["manifest"]).read_text())
            for failure in manifest["failures"]:  # each with its vendor task id and error
                error = failure["error"]
                print(f"Not published: {failure['task_id']} ({error['code']}: {error['message']})")
            videos = []
            for entry in manifest["files"]:
                path = ObjectStoragePath(entry["destination_uri"])
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                if digest != entry["sha256"] or path.size() != entry["bytes"]:
                    raise ValueError(f"{path} does not match its manifest entry")
                if entry["kind"] == "video":
                    videos.append(path.name)
            playlist = ObjectStoragePath(extra["destination"]) / "playlist.m3u"
            playlist.write_text("#EXTM3U\n" + "".join(f"{name}\n" for name in videos))
            print(f"Verified {len(manifest['files'])} file(s); {len(videos)} video(s) listed in {playlist}")
            published.append({"destination": extra["destination"], "videos": len(videos), "playlist": str(playlist)})
        return published

    publish()
