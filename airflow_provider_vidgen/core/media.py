"""Proof that a downloaded file is a real, complete video, and a poster frame from it (PyAV).

PyAV's wheels bundle FFmpeg, so nothing else needs installing. ``av`` is imported inside the
functions: importing this module (and the download operator) stays cheap at DAG parse time.
"""

from __future__ import annotations

import fractions
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import IO, Any

from airflow_provider_vidgen.core import typed

# The demuxed packets must cover the declared duration to within this much (or this share of it).
DURATION_TOLERANCE_S = 0.25
DURATION_TOLERANCE_SHARE = 0.05
STILL_IMAGE_FORMATS = frozenset({"image2", "jpeg_pipe", "png_pipe", "webp_pipe", "gif"})
POSTER_AT_SHARE = 0.25  # poster frame: a quarter into the video (first frames are often black)


class InvalidVideoError(ValueError):
    """The file is not a complete, decodable video; ``reason`` says what was found instead."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class VideoInfo:
    """What the probe measured (not what the vendor claimed)."""

    container: str  # FFmpeg's demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    codec: str  # of the first video stream, e.g. "h264"
    width: int
    height: int
    duration: float  # seconds, as covered by the demuxed video packets
    frames: int  # video packets demuxed (one per frame for every common codec)
    fps: float | None
    audio_codec: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> VideoInfo:
        """What ``to_dict`` wrote, every field checked for its type (it comes back from XCom)."""
        if not isinstance(data, Mapping):
            raise ValueError(f"video: expected a mapping, got {type(data).__name__}")
        return cls(
            container=typed.required_text(data, "container"),
            codec=typed.required_text(data, "codec"),
            width=typed.integer(data, "width", minimum=0) or 0,
            height=typed.integer(data, "height", minimum=0) or 0,
            duration=typed.number(data, "duration") or 0.0,
            frames=typed.integer(data, "frames", minimum=0) or 0,
            fps=typed.number(data, "fps"),
            audio_codec=typed.text(data, "audio_codec"),
        )


def sniff(head: bytes) -> str:
    """A short human description of what a non-video file starts with (for error messages)."""
    text = head.lstrip()[:200].lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in text:
        return "an HTML page (often an error or login page served with status 200)"
    if text.startswith((b"{", b"[")):
        return "JSON (often an API error body)"
    if text.startswith(b"<?xml") or text.startswith(b"<error"):
        return "XML (often a storage service's error body)"
    if not head:
        return "an empty file"
    return f"unrecognized data starting {head[:16]!r}"


def probe_video(source: str | IO[bytes]) -> VideoInfo:
    """Open, demux every packet of the first video stream, and decode its first frame.

    Raises :class:`InvalidVideoError` for anything that is not a complete video: no container
    FFmpeg recognizes (an HTML page saved as ``.mp4``), no video stream, no decodable frame, or
    packets that stop short of the declared duration (a truncated download).
    """
    import av

    head = _head(source)
    try:
        with av.open(source, mode="r") as container:
            if not container.streams.video:
                raise InvalidVideoError(f"no video stream ({container.format.name} container; truncated?)")
            stream = container.streams.video[0]
            codec = stream.codec_context.name
            width, height = stream.codec_context.width, stream.codec_context.height
            if container.format.name in STILL_IMAGE_FORMATS or container.format.name.endswith("_pipe"):
                raise InvalidVideoError(f"a still image ({codec}), not a video")
            frames, start, end = 0, None, 0.0
            for packet in container.demux(stream):
                if packet.pts is None or packet.size == 0:
                    continue  # flush packet
                frames += 1
                t0 = float(packet.pts * packet.time_base)
                start = t0 if start is None else min(start, t0)
                end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
            if frames == 0:
                raise InvalidVideoError(f"{codec} video stream without any frame (truncated?)")
            if stream.frames and frames < stream.frames:
                raise InvalidVideoError(
                    f"truncated: the file holds {frames} of the {stream.frames} frames the container declares"
                )
            covered = end - (start or 0.0)
            declared = _declared_duration(container, stream)
            if declared and covered + max(DURATION_TOLERANCE_S, declared * DURATION_TOLERANCE_SHARE) < declared:
                raise InvalidVideoError(
                    f"truncated: its frames cover {covered:.2f} s of the {declared:.2f} s the container declares"
                )
            if not width or not height:
                raise InvalidVideoError(f"{codec} video stream without a frame size")
            container.seek(0)
            if next(container.decode(stream), None) is None:
                raise InvalidVideoError(f"no decodable {codec} frame")
            audio = container.streams.audio[0].codec_context.name if container.streams.audio else None
            rate = stream.average_rate or stream.guessed_rate
            return VideoInfo(
                container=container.format.name,
                codec=codec,
                width=int(width),
                height=int(height),
                duration=round(covered, 3),
                frames=frames,
                fps=round(float(rate), 3) if rate else None,
                audio_codec=audio,
            )
    except InvalidVideoError:
        raise
    except (av.FFmpegError, IndexError, ValueError, OSError) as err:
        raise InvalidVideoError(f"not a video FFmpeg can read: {sniff(head)} ({_reason(err)})") from None


def extract_poster(source: str | IO[bytes], *, max_width: int = 640) -> bytes:
    """A JPEG of the frame a quarter into the video (the first frame if the video is very short)."""
    import av

    try:
        with av.open(source, mode="r") as container:
            stream = container.streams.video[0]
            declared = _declared_duration(container, stream) or 0.0
            target = declared * POSTER_AT_SHARE
            chosen = None
            for frame in container.decode(stream):
                chosen = frame
                if frame.time is None or frame.time >= target:
                    break
            if chosen is None:
                raise InvalidVideoError("no decodable frame for a poster")
            width, height = chosen.width, chosen.height
            if width > max_width:
                width, height = max_width, max(2, round(height * max_width / width / 2) * 2)
            encoder = av.CodecContext.create("mjpeg", "w")
            encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuvj420p"
            encoder.time_base = fractions.Fraction(1, 25)
            image = chosen.reformat(width=width, height=height, format="yuvj420p")
            return b"".join(bytes(packet) for packet in [*encoder.encode(image), *encoder.encode(None)])
    except InvalidVideoError:
        raise
    except (av.FFmpegError, IndexError, ValueError, OSError) as err:
        raise InvalidVideoError(f"could not extract a poster frame ({_reason(err)})") from None


def _reason(err: Exception) -> str:
    """FFmpeg's own words, without the (temporary) file name PyAV appends."""
    return f"{type(err).__name__}: {getattr(err, 'strerror', None) or err}"


def _declared_duration(container: Any, stream: Any) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return None


def _head(source: str | IO[bytes]) -> bytes:
    """The first bytes (to describe a bad file), leaving a file object at its start again."""
    if isinstance(source, str):
        with open(source, "rb") as handle:
            return handle.read(512)
    position = source.tell()
    head = source.read(512)
    source.seek(position)
    return head


__all__ = ["InvalidVideoError", "VideoInfo", "extract_poster", "probe_video", "sniff"]
