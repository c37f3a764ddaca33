"""Files the API and the console hand out: streamed from a temporary file, named in Chinese."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO
from urllib.parse import quote

from fastapi.responses import StreamingResponse

from bot.services.report_files import MEDIA_TYPES

CHUNK = 64 * 1024


def _chunks(file: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := file.read(CHUNK):
            yield chunk
    finally:
        file.close()


def attachment(file: IO[bytes], name: str, fmt: str) -> StreamingResponse:
    """A download: `filename*` carries the Chinese name (RFC 6266), `filename` an ASCII fallback."""
    fallback = "report." + fmt
    disposition = f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}"
    return StreamingResponse(_chunks(file), media_type=MEDIA_TYPES[fmt], headers={"Content-Disposition": disposition})
