import numpy as np
import pytest

from aesearch_utils.errors import InvalidInputError
from aesearch_utils.models import build_autoencoder
from aesearch_utils.viz import latent, widgets
from aesearch_utils.viz.figures import plot_decoded_plane

MODEL = build_autoencoder("vae_dense", (8, 8, 1), 2, hidden_units=8)
IMAGES = np.random.default_rng(0).integers(0, 256, (5, 8, 8, 1), dtype=np.uint8)


def test_interpolation_ends_at_the_two_images_reconstructions():
    path = latent.interpolate(MODEL, IMAGES[0], IMAGES[1], np.array([0.0, 0.5, 1.0]))
    ends = latent.decode(MODEL, latent.embed(MODEL, IMAGES[:2]))
    np.testing.assert_allclose(path[[0, 2]], ends, atol=1e-6)
    assert path.shape == (3, 8, 8, 1)


def test_the_decoded_plane_needs_a_2d_code_and_is_one_mosaic():
    grid = latent.plane_grid(MODEL, points=3)
    assert grid.shape == (3, 3, 8, 8, 1)
    assert plot_decoded_plane(grid, 2.0).axes[0].images[0].get_array().shape == (24, 24)
    with pytest.raises(InvalidInputError, match="needs a 2-D code"):
        latent.plane_grid(build_autoencoder("dense", (8, 8, 1), 3))
    with pytest.raises(InvalidInputError, match="decodes vectors of 2 numbers"):
        latent.decode(MODEL, np.zeros((1, 3)))


def test_moving_a_slider_redraws_the_decoded_image():
    view = widgets.interpolation_view({"vae": MODEL}, IMAGES, [0, 1, 0, 1, 0], ["a", "b"])
    (sliders, position, caption, images) = view.children
    decoded = images.children[-1].children[1]
    before = decoded.value
    position.value = 1.0
    assert decoded.value != before and "100% of the way" in caption.value
    sliders.children[1].value = 3  # another image B
    assert "B: b" in caption.value

    traversal = widgets.traversal_view(MODEL, spread=2.0)
    _z0, z1, image = traversal.children
    before = image.value
    z1.value = 2.0
    assert image.value != before and bytes(image.value).startswith(b"\x89PNG")


def test_headless_runs_print_instead_of_displaying(monkeypatch, capsys):
    monkeypatch.setenv("AESEARCH_HEADLESS", "1")
    widgets.show(widgets.traversal_view(MODEL), "figures/07_plane.png")
    assert "headless run" in capsys.readouterr().out


def test_the_search_box_shows_results_and_its_own_errors_and_escapes_names(tmp_path):
    from aesearch_utils.search import PixelEncoder, SearchPipeline
    from aesearch_utils.service.uploads import png_bytes
    from aesearch_utils.store import Gallery

    images = np.random.default_rng(0).integers(0, 256, (40, 8, 8, 1), dtype=np.uint8)
    gallery = Gallery.build(tmp_path / "g", SearchPipeline(PixelEncoder((8, 8, 1))), images,
                            np.arange(40) % 2, class_names=["<b>bold</b>", "plain"])  # fmt: skip
    box = widgets.search_box(gallery, k=3)
    upload, message, results = box.children

    def uploaded(name: str, image: np.ndarray) -> tuple[dict, ...]:
        import datetime

        data = png_bytes(image)
        return ({"name": name, "type": "image/png", "size": len(data),
                 "content": memoryview(data),
                 "last_modified": datetime.datetime.now(datetime.timezone.utc)},)  # fmt: skip

    upload.value = uploaded("q.png", images[3])
    assert len(results.children) == 4 and "cosine distance" in message.value
    captions = [cell.children[0].value for cell in results.children[1:]]
    assert "&lt;b&gt;bold&lt;/b&gt;" in "".join(captions)
    assert all(
        cell.children[1].layout.width == f"{widgets.SHOWN_PIXELS}px" for cell in results.children
    )
    gallery.close()  # a closed gallery: the box says so instead of failing in a hidden log
    upload.value = uploaded("q2.png", images[4])
    assert "closed" in message.value and results.children == ()
