"""Reading an upload with a size limit."""

from __future__ import annotations

from starlette.datastructures import UploadFile

from coursegen.gateway.problems import Problem


async def read_limited(upload: UploadFile, limit: int) -> bytes:
    """The whole upload; 413 as soon as it passes ``limit`` bytes."""
    data = bytearray()
    while chunk := await upload.read(64 * 1024):
        data += chunk
        if len(data) > limit:
            raise Problem(413, f"the file is larger than {limit // 1024} KiB", title="Content Too Large")
    return bytes(data)
