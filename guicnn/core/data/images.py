"""Reading one image file: the single reader behind ``guicnn predict``, the image-folder loader
and the window's Predict pane, so the same file always becomes the same input array.

The steps, in this order: refuse a size above :data:`MAX_IMAGE_PIXELS` from the header (before
anything is decoded: decompression bombs); 16-bit images keep their high byte; transparent
parts become black (guicnn's sets are light strokes on black); convert to RGB; resize with
:data:`RESAMPLING`; then gray (ITU-R 601 luma, exactly as Pillow's ``convert("L")``) or RGB.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError, printable

IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm", ".pnm"}
)
#: Images larger than this (width x height) are refused before they are decoded.
MAX_IMAGE_PIXELS = 40_000_000
#: Bilinear in Pillow averages over the whole footprint when shrinking (no aliasing, unlike a
#: plain bilinear lookup) and interpolates smoothly when enlarging 8x8 digits; it cannot ring
#: past the pixel range like Lanczos.
RESAMPLING_NAME = "BILINEAR"
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


def _image_module() -> Any:
    from PIL import Image

    return Image


def _where(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return printable(path.relative_to(root))
        except ValueError:
            pass
    return printable(path.name)


def _fail(path: Path, root: Path | None, message: str) -> DataError:
    where = _where(path, root)
    if root is not None and where != printable(path.name):
        return DataError(f"{where}: {message}")
    return DataError(f"{printable(path.name)}: {message}")


@dataclass(frozen=True)
class ImageHeader:
    """What an image file's header says, read without decoding its pixels."""

    width: int
    height: int
    mode: str

    @property
    def size(self) -> tuple[int, int]:
        """(height, width), the order of shapes in guicnn."""
        return (self.height, self.width)


def _open(path: Path, root: Path | None) -> Any:
    """Pillow image opened lazily (header parsed, pixels not decoded), size checked."""
    Image = _image_module()
    try:
        with warnings.catch_warnings():  # our own, lower limit is checked below
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except Image.DecompressionBombError as exc:
        raise _fail(path, root, f"is too large to decode safely ({exc}); at most "
                                f"{MAX_IMAGE_PIXELS:,} pixels are read") from None
    except FileNotFoundError:
        raise _fail(path, root, "no such image file") from None
    except IsADirectoryError:
        raise _fail(path, root, "is a folder, not an image file") from None
    except Image.UnidentifiedImageError:
        raise _fail(path, root, "is not an image in a format Pillow can read (PNG, JPEG, BMP, GIF, TIFF, ...)") \
            from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise _fail(path, root, f"cannot be read as an image ({type(exc).__name__}: {exc})") from None
    width, height = image.size
    if width < 1 or height < 1 or width * height > MAX_IMAGE_PIXELS:
        image.close()
        raise _fail(path, root, f"is {width}x{height} pixels; guicnn reads images of at most "
                                f"{MAX_IMAGE_PIXELS:,} pixels (a decompression bomb?)")
    return image


def read_header(path: str | os.PathLike, root: str | os.PathLike | None = None) -> ImageHeader:
    """Width, height and mode of an image file, without decoding it; DataError naming the file."""
    image = _open(Path(path), None if root is None else Path(root))
    with image:
        return ImageHeader(width=int(image.size[0]), height=int(image.size[1]), mode=str(image.mode))


def _as_rgb(image: Any) -> Any:
    """Decoded RGB picture: 16-bit keeps its high byte, transparent parts become black."""
    Image = _image_module()
    image.load()
    if image.mode == "I" or image.mode.startswith("I;16"):  # 16-bit (or 32-bit) gray
        values = np.clip(np.asarray(image).astype(np.int64), 0, None)
        shift = 24 if values.size and int(values.max()) > 0xFFFF else 8
        image = Image.fromarray((values >> shift).astype(np.uint8), "L")
    if image.mode in _ALPHA_MODES or "transparency" in image.info:
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba)
    return image.convert("RGB")


def resize_rgb(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An (H, W, 3) uint8 picture resized to ``size`` = (height, width) with :data:`RESAMPLING_NAME`."""
    Image = _image_module()
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    if rgb.shape[:2] == tuple(size):
        return rgb
    picture = Image.fromarray(rgb, "RGB").resize((size[1], size[0]), getattr(Image.Resampling, RESAMPLING_NAME))
    return np.asarray(picture, dtype=np.uint8)


def luma(rgb: np.ndarray) -> np.ndarray:
    """Gray (H, W) uint8 from (..., 3) uint8, bit for bit as Pillow's ``convert("L")``."""
    r, g, b = (rgb[..., i].astype(np.uint32) for i in range(3))
    return ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).astype(np.uint8)


def is_gray(rgb: np.ndarray) -> bool:
    """Whether every pixel of an (H, W, 3) picture has R = G = B."""
    return bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())


def read_rgb(path: str | os.PathLike, size: tuple[int, int] | None = None,
             root: str | os.PathLike | None = None) -> np.ndarray:
    """An image file as (H, W, 3) uint8, resized to ``size`` = (height, width) when given."""
    p, base = Path(path), None if root is None else Path(root)
    image = _open(p, base)
    try:
        with image:
            rgb = np.asarray(_as_rgb(image), dtype=np.uint8)
    except DataError:
        raise
    except MemoryError:
        raise _fail(p, base, "does not fit in memory when decoded") from None
    except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds of errors on damaged files
        raise _fail(p, base, f"cannot be read as an image ({type(exc).__name__}: {exc})") from None
    return rgb if size is None else resize_rgb(rgb, size)


def to_channels(rgb: np.ndarray, channels: int) -> np.ndarray:
    """(H, W, 3) uint8 → (C, H, W) float32 in [0, 1] with C = 1 (luma) or 3."""
    if channels == 1:
        out = luma(rgb)[None].astype(np.float32)
    elif channels == 3:
        out = rgb.transpose(2, 0, 1).astype(np.float32)
    else:
        raise DataError(f"images can be read with 1 (gray) or 3 (RGB) channels, not {channels}")
    out /= 255.0
    return out


def read_image(path: str | os.PathLike, size: tuple[int, int] | None = None, channels: int | None = None,
               root: str | os.PathLike | None = None) -> np.ndarray:
    """One image file as float32 (C, H, W) in [0, 1].

    ``size`` = (height, width) to resize to (default: the image's own size); ``channels`` 1
    (gray) or 3 (RGB), by default 1 when the picture is gray and 3 otherwise. Raises
    DataError naming the file (relative to ``root`` when given).
    """
    rgb = read_rgb(path, size, root)
    return to_channels(rgb, channels if channels is not None else (1 if is_gray(rgb) else 3))


__all__ = [
    "IMAGE_EXTENSIONS", "MAX_IMAGE_PIXELS", "RESAMPLING_NAME", "ImageHeader", "is_gray", "luma", "read_header",
    "read_image", "read_rgb", "resize_rgb", "to_channels",
]
