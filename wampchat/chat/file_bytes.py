"""
What an uploaded file's bytes are, decided from the bytes alone (the client's claim is never trusted).

An image (PNG, JPEG, GIF or WebP, as Pillow reads it) is decoded and
encoded again, which leaves its metadata (EXIF with GPS positions, XMP,
comments, ICC profiles) behind; a JPEG is first turned the way its EXIF
orientation says, so it looks the same without it. It gets its width and
height and a thumbnail of at most :data:`THUMBNAIL_SIZE` px. Text that is
plainly text (UTF-8, no control characters but whitespace) is
``text/plain``; everything else, SVG and HTML included, is
``application/octet-stream`` or ``text/plain`` and is served as an
attachment.

Decompression bombs: an image claiming more than :data:`MAX_PIXELS` pixels
(or that Pillow refuses as a bomb, or cannot decode) is not treated as an
image: it is kept as ``application/octet-stream``, as uploaded, and never
decoded. This is CPU work: the caller runs it off the reactor thread.
"""
import io
import re
from dataclasses import dataclass, field

from PIL import Image, ImageOps

MAX_PIXELS = 40_000_000          # 40 megapixels: more than any phone photo, far less than a bomb
THUMBNAIL_SIZE = 320
IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
OCTETS = "application/octet-stream"
TEXT = "text/plain; charset=utf-8"
_NOT_TEXT = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")

Image.MAX_IMAGE_PIXELS = MAX_PIXELS   # Pillow refuses to open anything twice this (DecompressionBombError)


@dataclass
class Sniffed:
    """What the bytes turned out to be: ``blobs`` is {kind: (content type, bytes)} to store."""

    content_type: str
    blobs: dict = field(default_factory=dict)
    width: int | None = None
    height: int | None = None


def sniff(data: bytes) -> Sniffed:
    """The content type of ``data`` and what to store of it (an image cleaned, with its thumbnail)."""
    image = _image(data)
    if image is not None:
        return image
    content_type = TEXT if _plain_text(data) else OCTETS
    return Sniffed(content_type, {"original": (content_type, data)})


def _plain_text(data: bytes) -> bool:
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not _NOT_TEXT.search(decoded)


def _image(data: bytes) -> Sniffed | None:
    """The cleaned image and its thumbnail, or None when ``data`` is no image we decode."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in IMAGE_TYPES or probe.width * probe.height > MAX_PIXELS:
                return None
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            fmt = image.format
            if fmt not in IMAGE_TYPES:  # what the probe read; a file that changes its mind is refused
                return None
            clean, frames = _cleaned(image, fmt)
            thumbnail = _thumbnail(frames[0])
            width, height = frames[0].size
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, MemoryError):
        return None
    content_type = IMAGE_TYPES[fmt]
    return Sniffed(content_type, {"original": (content_type, clean), "thumbnail": thumbnail}, width, height)


def _cleaned(image: Image.Image, fmt: str) -> tuple[bytes, list]:
    """The image encoded again without its metadata, and its frames (one, or an animation's)."""
    out = io.BytesIO()
    if fmt in ("GIF", "WEBP") and getattr(image, "n_frames", 1) > 1:
        frames = [frame.copy() for frame in _frames(image)]
        frames[0].save(out, fmt, save_all=True, append_images=frames[1:], loop=image.info.get("loop", 0),
                       duration=image.info.get("duration", 100))
        return out.getvalue(), frames
    frame = ImageOps.exif_transpose(image) if fmt == "JPEG" else image.copy()
    frame = _without_info(frame)
    if fmt == "JPEG":
        frame = frame.convert("RGB") if frame.mode not in ("RGB", "L") else frame
        frame.save(out, "JPEG", quality=90)
    else:
        frame.save(out, fmt)
    return out.getvalue(), [frame]


def _frames(image: Image.Image):
    """Every frame of an animation, in order."""
    for index in range(getattr(image, "n_frames", 1)):
        image.seek(index)
        yield _without_info(image.copy())


def _without_info(frame: Image.Image) -> Image.Image:
    """A copy of the pixels only: no EXIF, XMP, ICC profile or comment rides along into the new file."""
    frame.info = {k: v for k, v in frame.info.items() if k in ("transparency", "duration", "loop")}
    return frame


def _thumbnail(frame: Image.Image) -> tuple[str, bytes]:
    """(content type, bytes) of a thumbnail at most THUMBNAIL_SIZE px each way: JPEG, or PNG with alpha."""
    small = frame.copy()
    small.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    out = io.BytesIO()
    if small.mode in ("RGBA", "LA", "P", "PA"):
        small.convert("RGBA").save(out, "PNG")
        return "image/png", out.getvalue()
    small.convert("RGB").save(out, "JPEG", quality=80)
    return "image/jpeg", out.getvalue()
