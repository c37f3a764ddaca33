"""Pictures staff upload (a launch's image). Kept in the database, so every instance serves them; the QQ
client fetches one by an address nobody can guess, its SHA-256. The type is read from the file's own
first bytes, never from its name or the browser's word, and only common picture formats are taken."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlmodel import Session, col, select

from bot.models import MediaFile
from bot.services.errors import NotFound, ServiceError, TooLarge

MAX_IMAGE_BYTES = 2 * 1024 * 1024  # QQ shows larger pictures no better, and sends them slower
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}


def picture_type(content: bytes) -> str | None:
    """The picture's media type from its signature; None when it is not a PNG, JPEG, GIF or WebP."""
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    return None


def store_image(session: Session, content: bytes, *, staff_id: int | None, now: datetime) -> MediaFile:
    """Keep an uploaded picture (the same picture twice is kept once)."""
    if not content:
        raise ServiceError("图片文件是空的")
    if len(content) > MAX_IMAGE_BYTES:
        raise TooLarge(f"图片过大：最多 {MAX_IMAGE_BYTES // (1024 * 1024)} MB")
    kind = picture_type(content)
    if kind is None:
        raise ServiceError("只支持 JPG、PNG、GIF 或 WebP 图片")
    digest = hashlib.sha256(content).hexdigest()
    found = session.exec(select(MediaFile).where(col(MediaFile.sha256) == digest)).first()
    if found is None:
        found = MediaFile(sha256=digest, content_type=kind, size=len(content), data=content,
                          created_by_staff_id=staff_id, created_at=now)
        session.add(found)
        session.flush()
    return found


def file_name(media: MediaFile) -> str:
    return f"{media.sha256}.{EXTENSIONS[media.content_type]}"


def address(base_url: str, media: MediaFile) -> str:
    """Where the QQ client and the console fetch the picture (`base_url`: the service as others reach it)."""
    return f"{base_url}/console/media/{file_name(media)}"


def image_named(session: Session, name: str) -> MediaFile:
    digest, _, _ = name.partition(".")
    found = session.exec(select(MediaFile).where(col(MediaFile.sha256) == digest.lower())).first()
    if found is None or file_name(found) != name.lower():
        raise NotFound("图片不存在")
    return found
