"""Interactive latent-space views for JupyterLab (ipywidgets), with a headless fallback.

A view is a box of sliders and an image that is redrawn whenever a slider
moves. Headless runs (papermill, CI) have no front end to talk to, and some
set-ups hang waiting for one, so :func:`show` only displays a view in an
interactive session; the notebooks save the same views as static figures.

Each image is shown at a fixed size (:func:`image_widget`), so sliders and
picture fit on one screen; a widget's callback that fails says so in the
widget, since JupyterLab would only write it to a log console nobody has
open; and text from a gallery (class names, errors) is escaped before it
goes into an HTML widget.
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence

import ipywidgets as widgets
import numpy as np
from IPython.display import display
from PIL import Image

from aesearch_utils import config
from aesearch_utils.errors import InvalidInputError
from aesearch_utils.models import Autoencoder
from aesearch_utils.service.uploads import decode_upload
from aesearch_utils.store import Gallery
from aesearch_utils.viz.latent import decode, embed, interpolate

SHOWN_PIXELS = 112
"""The side an image is shown at, in screen pixels (a 28x28 image four times over)."""


def image_widget(value: bytes = b"") -> widgets.Image:
    """A PNG shown at ``SHOWN_PIXELS`` square, not stretched to the cell's width."""
    side = f"{SHOWN_PIXELS}px"
    return widgets.Image(value=value, format="png", layout=widgets.Layout(width=side, height=side))


def png(image: np.ndarray, scale: int = 4) -> bytes:
    """PNG bytes of one ``(H, W, C)`` image in [0, 1], enlarged ``scale`` times (no smoothing)."""
    pixels = (np.clip(image, 0, 1) * 255).round().astype(np.uint8)
    pixels = pixels[..., 0] if pixels.shape[-1] == 1 else pixels
    picture = Image.fromarray(pixels).resize(
        (pixels.shape[1] * scale, pixels.shape[0] * scale), Image.Resampling.NEAREST
    )
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def interpolation_view(
    models: dict[str, Autoencoder],
    images: np.ndarray,
    labels: Sequence[int],
    class_names: Sequence[str],
) -> widgets.VBox:
    """Pick two images and slide from one to the other in each model's latent space.

    The decoded images of all ``models`` are shown side by side, so an
    autoencoder and a VAE can be compared at the same point of the line.
    """
    last = len(images) - 1
    first = widgets.IntSlider(0, 0, last, description="image A")
    second = widgets.IntSlider(min(1, last), 0, last, description="image B")
    position = widgets.FloatSlider(0.5, min=0, max=1, step=0.05, description="A → B")
    caption = widgets.HTML()
    originals = [image_widget() for _ in range(2)]
    decoded = {name: image_widget() for name in models}
    for image in decoded.values():
        image.add_class("aesearch-decoded")

    def redraw(_change=None) -> None:
        a, b = first.value, second.value
        caption.value = html.escape(
            f"A: {class_names[labels[a]]}, B: {class_names[labels[b]]}; "
            f"{position.value:.0%} of the way from A to B"
        )
        originals[0].value, originals[1].value = png(images[a] / 255), png(images[b] / 255)
        for name, model in models.items():
            decoded[name].value = png(interpolate(model, images[a], images[b], [position.value])[0])

    for slider in (first, second, position):
        slider.observe(redraw, names="value")
    redraw()
    columns = [_captioned(originals[0], "A"), _captioned(originals[1], "B")]
    columns += [_captioned(image, name) for name, image in decoded.items()]
    view = widgets.VBox([widgets.HBox([first, second]), position, caption, widgets.HBox(columns)])
    view.add_class("aesearch-interpolation")
    return view


def traversal_view(
    model: Autoencoder, start: np.ndarray | None = None, spread: float = 3.0, dimensions: int = 4
) -> widgets.VBox:
    """One slider per latent dimension (the first ``dimensions``); the decoded image follows.

    ``start`` is an image whose code the sliders start from (default: the origin).
    """
    origin = (
        np.zeros(model.latent_dim, np.float32) if start is None else embed(model, start[None])[0]
    )
    shown = min(dimensions, model.latent_dim)
    sliders = [
        widgets.FloatSlider(float(value), min=-spread, max=spread, step=0.1, description=f"z{d}")
        for d, value in enumerate(origin[:shown])
    ]
    image = image_widget()
    image.add_class("aesearch-decoded")

    def redraw(_change=None) -> None:
        code = origin.copy()
        code[:shown] = [slider.value for slider in sliders]
        image.value = png(decode(model, code[None])[0])

    for slider in sliders:
        slider.observe(redraw, names="value")
    redraw()
    view = widgets.VBox([*sliders, image])
    view.add_class("aesearch-traversal")
    return view


def search_box(gallery: Gallery, k: int = 8) -> widgets.VBox:
    """Upload an image and see its ``k`` nearest gallery images, with labels and distances."""
    upload = widgets.FileUpload(accept="image/*", description="query image")
    message = widgets.HTML()
    results = widgets.HBox()

    def search(_change=None) -> None:
        if not upload.value:
            return
        data = bytes(upload.value[-1]["content"])
        try:
            query = decode_upload(data, gallery.image_shape).image
            hits = gallery.search(query, k)
            cells = [_captioned(image_widget(png(query / 255)), "query")]
            for item, distance, label in zip(
                hits.ids[0], hits.distances[0], hits.labels[0], strict=True
            ):
                named = 0 <= label < len(gallery.class_names)
                image = image_widget(png(gallery.image(item) / 255))
                cells.append(
                    _captioned(image, f"{gallery.class_names[label] if named else '?'}, "
                                      f"{distance:.3f}")
                )  # fmt: skip
        except Exception as error:  # shown here: JupyterLab hides a callback's traceback
            results.children = []
            problem = str(error) if isinstance(error, InvalidInputError) else repr(error)
            message.value = f"<span style='color: #b00'>{html.escape(problem)}</span>"
            return
        message.value = (
            f"the {k} nearest of {len(gallery):,} gallery images "
            "(cosine distance: smaller is more similar)"
        )
        results.children = cells

    upload.observe(search, names="value")
    view = widgets.VBox([upload, message, results])
    view.add_class("aesearch-search-box")
    return view


def show(view: widgets.Widget, static_figure: str = "") -> None:
    """Display ``view`` in an interactive session; headless, say where its static version is."""
    if config.is_headless():
        where = f": see {static_figure}" if static_figure else ""
        print(f"headless run: the interactive view is not shown{where}")
    else:
        display(view)


def _captioned(image: widgets.Image, text: str) -> widgets.VBox:
    return widgets.VBox([widgets.HTML(f"<b>{html.escape(text)}</b>"), image])
