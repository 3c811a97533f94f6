"""Uploaded files to gallery-shaped images, and every way that can go wrong, said plainly;
and gallery images back to PNG files.

An upload may be any size or mode (a phone photo, a transparent PNG, a canvas
drawing); it is converted as the gallery's training data was: grey 28x28 for
the MNISTs, RGB 32x32 for CIFAR-10 (:func:`~aesearch_utils.data.image_folder.image_to_array`).
MNIST and Fashion-MNIST show light things on black, so a grey image whose
border is mostly light (a dark digit on white paper) is inverted first.

Only the formats in :data:`ACCEPTED_FORMATS` are decoded, and only images of
at most :data:`MAX_PIXELS` pixels: importing this module lowers Pillow's own
limit to it, and Pillow reads the size from the header before decoding, so a
"decompression bomb" (a small file that decodes to gigabytes) is refused
before it costs memory.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

from aesearch_utils.data.image_folder import image_to_array
from aesearch_utils.errors import InvalidInputError

ACCEPTED_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")
MAX_PIXELS = 4096 * 4096
"""Pixels an upload may have (Pillow's own default allows 89 million)."""

# Pillow checks the size in the header, before decoding: lower its limit for this process
# (the service's), and make its warning (between 1 and 2 times the limit) an error below.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


class UnreadableImageError(InvalidInputError):
    """An upload that is not an image this service reads."""


@dataclass(frozen=True)
class Upload:
    image: np.ndarray
    """uint8, the gallery's ``(height, width, channels)``."""
    inverted: bool
    transparent: bool


def decode_upload(data: bytes, image_shape: tuple[int, ...]) -> Upload:
    """``data`` (an image file's bytes) as an image of ``image_shape`` (H, W, 1 or 3)."""
    if not data:
        raise UnreadableImageError("the upload is empty: send an image file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS) as image:
                image.load()
                grayscale = image_shape[-1] == 1
                array, transparent = image_to_array(image, tuple(image_shape[:2]), grayscale)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise UnreadableImageError(
            f"refused: the image has more than the {MAX_PIXELS:,} pixels this service decodes; "
            "send a smaller image"
        ) from None
    except UnidentifiedImageError:
        raise UnreadableImageError(
            f"not an image this service reads: send {', '.join(ACCEPTED_FORMATS)}"
        ) from None
    except (OSError, ValueError, SyntaxError) as error:
        raise UnreadableImageError(f"the image is truncated or damaged ({error})") from None
    inverted = False
    if grayscale:
        border = np.concatenate([array[0], array[-1], array[:, 0], array[:, -1]])
        if border.mean() > 127:
            array, inverted = 255 - array, True
    return Upload(array, inverted, transparent)


def png_bytes(image: np.ndarray) -> bytes:
    """A gallery image (``(H, W, 1 or 3)`` uint8) as a PNG file's bytes."""
    buffer = io.BytesIO()
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(buffer, "PNG")
    return buffer.getvalue()
