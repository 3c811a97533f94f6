"""The gallery store: built, reopened, grown and shrunk while searched, never half-written."""

import shutil
import signal
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from conftest import scribble_over_pages

from aesearch_utils.errors import (
    BackendUnavailableError,
    CorruptDataError,
    DataNotFoundError,
    EmptyGalleryError,
    InvalidInputError,
)
from aesearch_utils.io import current_snapshot
from aesearch_utils.search import PixelEncoder, SearchPipeline
from aesearch_utils.store import Gallery
from aesearch_utils.store import gallery as gallery_module
from aesearch_utils.store.locking import FolderInUseError
from aesearch_utils.store.record import GalleryRecord

RNG = np.random.default_rng(0)
IMAGES = RNG.integers(0, 256, (300, 6, 6, 1), dtype=np.uint8)
LABELS = np.arange(300) % 3


def pipeline(**settings) -> SearchPipeline:
    return SearchPipeline(
        PixelEncoder((6, 6, 1)), **({"whiten_dims": 12, "expansion_k": 3} | settings)
    )


@pytest.fixture
def gallery(tmp_path):
    built = Gallery.build(tmp_path / "toy", pipeline(), IMAGES, LABELS, class_names=("a", "b", "c"))
    yield built
    built.close()


def test_a_built_gallery_searches_like_its_pipeline(tmp_path, gallery):
    reference = pipeline().fit(IMAGES, LABELS)
    hits = gallery.search(IMAGES[:20], 10)
    np.testing.assert_array_equal(hits.ids, reference.query(IMAGES[:20], 10).ids)
    np.testing.assert_array_equal(hits.labels, LABELS[hits.ids])
    assert len(gallery) == 300 and gallery.info()["class_names"] == ["a", "b", "c"]


def test_an_added_image_is_found_first_at_once_and_after_reopening(tmp_path, gallery):
    new = RNG.integers(0, 256, (2, 6, 6, 1), dtype=np.uint8)
    ids = gallery.add(new, [2, None])
    np.testing.assert_array_equal(ids, [300, 301])
    np.testing.assert_array_equal(gallery.search(new, 1).ids[:, 0], ids)
    assert gallery.label(300) == 2 and gallery.label(301) is None
    np.testing.assert_array_equal(gallery.image(301), new[1])
    gallery.close()
    reopened = Gallery.open(tmp_path / "toy")
    np.testing.assert_array_equal(reopened.search(new, 1).ids[:, 0], ids)
    reopened.close()


def test_an_addition_gets_the_augmentation_the_build_would_have_given(tmp_path):
    """DBA of an added item averages it with its nearest items, as building would."""
    first, last = IMAGES[:-1], IMAGES[-1:]
    grown = Gallery.build(tmp_path / "grown", pipeline(whiten_dims=None), first, LABELS[:-1])
    (added,) = grown.add(last, [LABELS[-1]])
    whole = Gallery.build(tmp_path / "whole", pipeline(whiten_dims=None), IMAGES, LABELS)
    np.testing.assert_allclose(
        grown._index.vectors_of([added]), whole._index.vectors_of([299]), atol=1e-6
    )
    grown.close(), whole.close()


def test_deleted_items_are_gone_and_their_ids_are_not_reused(tmp_path, gallery):
    gallery.delete([5, 6])
    assert len(gallery) == 298
    assert not np.isin([5, 6], gallery.search(IMAGES[5:7], 20).ids).any()
    with pytest.raises(InvalidInputError, match=r"no gallery item with id \[7000\]"):
        gallery.delete([7, 7000])
    assert len(gallery) == 298 and gallery.label(7) == 1  # nothing deleted
    gallery.delete([299])
    assert gallery.add(IMAGES[:1])[0] == 300


def test_bad_additions_change_nothing(gallery):
    with pytest.raises(InvalidInputError, match=r"the gallery's are \(6, 6, 1\)"):
        gallery.add(np.zeros((1, 5, 5, 1), np.uint8))
    with pytest.raises(InvalidInputError, match="uint8"):
        gallery.add(np.zeros((1, 6, 6, 1), np.float32))
    with pytest.raises(InvalidInputError, match="2 labels for 1 images"):
        gallery.add(IMAGES[:1], [1, 2])
    with pytest.raises(InvalidInputError, match="whole numbers >= 0"):
        gallery.add(IMAGES[:1], [-5])
    assert len(gallery) == 300 and gallery.record.count() == 300


def test_a_failing_view_rolls_the_record_back(gallery, monkeypatch):
    def broken(ids, vectors):
        raise RuntimeError("view down")

    monkeypatch.setattr(gallery._base_index(), "add", broken)
    with pytest.raises(RuntimeError, match="view down"):
        gallery.add(IMAGES[:2])
    assert len(gallery) == gallery.record.count() == gallery._index.count() == 300


def test_concurrent_searches_and_additions(gallery):
    queries = IMAGES[:40]
    expected = gallery.search(queries, 5).ids

    def search(row):
        return gallery.search(queries[row], 5).ids[0]

    with ThreadPoolExecutor(8) as pool:
        added = pool.submit(gallery.add, RNG.integers(0, 256, (5, 6, 6, 1), dtype=np.uint8) // 8)
        found = list(pool.map(search, range(40)))
        added.result()
    assert len(gallery) == 305
    np.testing.assert_array_equal(np.stack(found)[:, 0], expected[:, 0])


def test_building_refuses_an_existing_folder_and_opening_a_missing_one(tmp_path, gallery):
    with pytest.raises(InvalidInputError, match="already exists"):
        Gallery.build(tmp_path / "toy", pipeline(), IMAGES)
    with pytest.raises(DataNotFoundError, match="no gallery at"):
        Gallery.open(tmp_path / "nowhere")


def test_a_build_whose_folder_another_process_made_meanwhile_leaves_that_one(tmp_path, monkeypatch):
    """Two services started at once over an empty folder each build the default gallery."""
    target, real_write = tmp_path / "shared", gallery_module.write_json

    def another_build_finishes_first(path, data):
        real_write(path, data)
        if not target.exists() and path.parent.name.startswith(".building-shared-"):
            monkeypatch.setattr(gallery_module, "write_json", real_write)
            Gallery.build(target, pipeline(), IMAGES[:50], LABELS[:50]).close()

    monkeypatch.setattr(gallery_module, "write_json", another_build_finishes_first)
    with pytest.raises(InvalidInputError, match="already exists"):
        Gallery.build(target, pipeline(), IMAGES, LABELS)
    assert [path.name for path in tmp_path.iterdir()] == ["shared"]  # nothing half-built left
    survivor = Gallery.open(target)
    assert len(survivor) == 50
    survivor.close()


def test_an_interrupted_transaction_leaves_the_last_good_state(tmp_path, gallery):
    """A writer that dies in the middle of a transaction: SQLite rolls it back at reopening."""
    gallery.close()
    connection = sqlite3.connect(tmp_path / "toy" / "record.sqlite")
    connection.execute("BEGIN IMMEDIATE")
    connection.execute("DELETE FROM items WHERE id < 100")
    del connection  # never committed, like a process killed here
    reopened = Gallery.open(tmp_path / "toy")
    assert len(reopened) == 300
    reopened.close()


def test_empty_gallery_search_is_a_clear_error(gallery):
    gallery.delete(range(300))
    with pytest.raises(EmptyGalleryError, match="the gallery 'toy' is empty: add images"):
        gallery.search(IMAGES[:1])


def test_a_gallery_of_your_own_folder_reuses_a_fitted_pipeline(tmp_path):
    from conftest import write_image_tree

    from aesearch_utils.store.gallery import build_folder_gallery

    # as `aesearch build --folder` does: the pipeline of a gallery already built, reopened
    Gallery.build(tmp_path / "template", pipeline(), IMAGES, LABELS).close()
    fitted = Gallery.open(tmp_path / "template").pipeline
    write_image_tree(
        tmp_path / "photos", ["cats", "dogs"], per_class=4, size=(20, 20), splits=False
    )
    mine = build_folder_gallery(tmp_path / "mine", tmp_path / "photos", fitted)
    assert len(mine) == 8 and mine.class_names == ("cats", "dogs") and mine.image_shape == (6, 6, 1)
    found = mine.search(mine.image(5), 1)  # the folder's images are flat colours, one per class
    assert found.labels[0, 0] == mine.label(5) == 1 and found.distances[0, 0] < 1e-3
    mine.close()


def test_a_failed_build_leaves_no_gallery(tmp_path, monkeypatch):
    from aesearch_utils.store import gallery as module

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(module, "write_json", broken)
    with pytest.raises(OSError, match="disk full"):
        Gallery.build(tmp_path / "half", pipeline(), IMAGES, LABELS)
    assert list(tmp_path.iterdir()) == []


def test_a_closed_gallery_says_so_instead_of_failing_inside_faiss(tmp_path, gallery):
    gallery.close()
    gallery.close()  # closing twice is harmless
    image = np.zeros(gallery.image_shape, np.uint8)
    for use in (lambda: gallery.search(image), lambda: gallery.add(image),
                lambda: gallery.delete([0]), lambda: gallery.image(0)):  # fmt: skip
        with pytest.raises(InvalidInputError, match="is closed: open it again"):
            use()


def test_a_second_opener_of_one_folder_is_refused_until_the_first_closes(tmp_path, gallery):
    """Two openers would each serve only their own changes (measured with two services: a
    deletion through one was still returned first by the other)."""
    with pytest.raises(FolderInUseError, match="already open"):
        Gallery.open(gallery.path)
    gallery.close()
    Gallery.open(gallery.path).close()


def test_another_process_holding_the_folder_is_named_and_its_death_frees_it(tmp_path, gallery):
    gallery.close()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from aesearch_utils.store import Gallery; "
         f"g = Gallery.open({str(gallery.path)!r}); print('open', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(FolderInUseError, match=f"process {holder.pid}"):
            Gallery.open(gallery.path)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    Gallery.open(gallery.path).close()  # the operating system dropped the dead process's lock


def test_an_addition_that_fails_midway_leaves_nothing_and_is_never_returned(gallery, monkeypatch):
    """The vectors' server went down between the two views: the record is rolled back, and the
    item the first view kept is taken out before any search is answered (503 until it is)."""

    def down(*arguments):
        raise BackendUnavailableError("the vectors server is down")

    monkeypatch.setattr(gallery._base_index(), "add", down)
    monkeypatch.setattr(gallery._index, "remove", down)
    new = RNG.integers(0, 256, (1, 6, 6, 1), dtype=np.uint8)
    with pytest.raises(BackendUnavailableError):
        gallery.add(new, [1])
    assert len(gallery) == 300 and gallery.record.count() == 300
    with pytest.raises(BackendUnavailableError):
        gallery.search(new, 1)  # the first view still holds the item: no answer yet
    monkeypatch.undo()
    assert 300 not in gallery.search(new, 10).ids  # the server is back: taken out first
    assert gallery._index.count() == 300


def reads_of_every_item(monkeypatch) -> list[int]:
    """The ``first_id`` of each read of the record's items (0: the whole record)."""
    reads = []
    real = GalleryRecord.read_all

    def counted(record, first_id=0):
        reads.append(first_id)
        return real(record, first_id)

    monkeypatch.setattr(GalleryRecord, "read_all", counted)
    return reads


@pytest.mark.parametrize("kind", ["exact", "hnsw"])
def test_a_reopen_reads_the_saved_index_and_replays_only_later_changes(tmp_path, monkeypatch, kind):
    monkeypatch.setenv("AESEARCH_GALLERY_INDEX", kind)
    built = Gallery.build(tmp_path / "toy", pipeline(), IMAGES, LABELS)
    new = RNG.integers(0, 256, (2, 6, 6, 1), dtype=np.uint8)
    added = built.add(new, [1, 2])  # after the build's checkpoint: in the record only
    built.delete([5, int(added[1])])
    expected = built.search(IMAGES[:40], 10).ids
    # what a process killed now leaves: the checkpoint of the build, the record of everything
    crashed = tmp_path / "crashed"
    shutil.copytree(built.path, crashed, ignore=shutil.ignore_patterns("open.lock"))
    built.close()

    reads = reads_of_every_item(monkeypatch)
    for folder in (crashed, built.path):  # replayed; then the checkpoint close() saved
        reopened = Gallery.open(folder)
        np.testing.assert_array_equal(reopened.search(IMAGES[:40], 10).ids, expected)
        assert reopened._base is None  # searching never needs the vectors before augmentation
        assert reopened.label(5) is None and reopened.label(int(added[0])) == 1
        assert reopened._index.count() == reopened._base_index().count() == len(reopened) == 300
        assert reopened.search(new[:1], 1).ids[0, 0] == added[0]
        reopened.close()
    assert reads == [300, 300, 302, 302]  # never the whole record


def test_an_addition_after_a_reopen_matches_one_without(tmp_path, gallery):
    """The base index read at the first change gives new items the augmentation they get in
    a gallery that never closed."""
    new = RNG.integers(0, 256, (3, 6, 6, 1), dtype=np.uint8)
    copy = tmp_path / "copy"
    gallery.close()
    shutil.copytree(gallery.path, copy, ignore=shutil.ignore_patterns("open.lock"))
    never_closed = Gallery.open(copy)
    never_closed._base_index()
    reopened = Gallery.open(gallery.path)
    for one in (never_closed, reopened):
        one.add(new, [0, 1, 2])
    np.testing.assert_allclose(
        reopened._index.vectors_of(np.arange(300, 303)),
        never_closed._index.vectors_of(np.arange(300, 303)),
        atol=1e-6,
    )
    never_closed.close()
    reopened.close()


def test_a_close_without_changes_leaves_the_checkpoint_alone(tmp_path, gallery):
    gallery.close()
    snapshot = current_snapshot(gallery.path / "index")
    reopened = Gallery.open(gallery.path)
    reopened.search(IMAGES[:3], 3)
    reopened.close()
    assert current_snapshot(gallery.path / "index") == snapshot
    reopened = Gallery.open(gallery.path)
    reopened.add(IMAGES[:1], [0])
    reopened.close()
    assert current_snapshot(gallery.path / "index") != snapshot


def test_an_unreadable_or_foreign_checkpoint_is_rebuilt_from_the_record_with_a_warning(
    tmp_path, monkeypatch, gallery
):
    expected = gallery.search(IMAGES[:20], 10).ids
    other = Gallery.build(tmp_path / "other", pipeline(), IMAGES[::-1], LABELS)
    other.close()
    gallery.close()
    checkpoint = gallery.path / "index"

    def cut(name: str) -> None:
        file = current_snapshot(checkpoint) / name
        file.write_bytes(file.read_bytes()[:100])

    reads = reads_of_every_item(monkeypatch)
    for damage, message, read in [
        (lambda: cut("vectors.faiss.npy"), "cannot be read", [300, 0]),
        (lambda: cut("items.npy"), "cannot be read", [0]),
        (lambda: (checkpoint / "CURRENT").write_text("elsewhere"), "cannot be read", [0]),
        (lambda: shutil.copytree(other.path / "index", checkpoint, dirs_exist_ok=True),
         "another gallery", [0]),
    ]:  # fmt: skip
        reads.clear()
        damage()
        with pytest.warns(UserWarning, match=message):
            reopened = Gallery.open(gallery.path)
        np.testing.assert_array_equal(reopened.search(IMAGES[:20], 10).ids, expected)
        reopened.close()  # saves a good checkpoint again
        assert reads == read

    cut("base.faiss.npy")  # read at the first change: rebuilt then
    reopened = Gallery.open(gallery.path)
    with pytest.warns(UserWarning, match="cannot be read"):
        added = reopened.add(IMAGES[:1], [0])
    assert reopened.search(IMAGES[:1], 1).ids[0, 0] in (0, added[0])
    reopened.close()


def test_another_index_kind_or_a_rebuild_never_reads_a_saved_checkpoint(
    tmp_path, monkeypatch, gallery
):
    gallery.close()
    monkeypatch.setenv("AESEARCH_GALLERY_INDEX", "hnsw")
    reads = reads_of_every_item(monkeypatch)
    reopened = Gallery.open(gallery.path)  # the checkpoint holds the exact index: built anew
    assert reopened.index_kind == "hnsw" and reads == [300, 0]
    reopened.rebuild()
    assert not (gallery.path / "index").exists()  # its vectors changed in place
    reopened.close()
    Gallery.open(gallery.path).close()
    assert reads == [300, 0, 0, 300]


def test_a_damaged_record_is_refused_once_the_background_check_finds_it(tmp_path, gallery):
    gallery.close()
    # a leaf of early items: no read of the open reaches it
    scribble_over_pages(gallery.path / "record.sqlite", lambda count: [count // 2])
    reopened = Gallery.open(gallery.path)  # served from the checkpoint while it is checked
    with pytest.raises(CorruptDataError, match=r"record\.sqlite: the gallery record is damaged"):
        reopened.verify()
    for call in (lambda: reopened.search(IMAGES[:1], 1), lambda: reopened.add(IMAGES[:1])):
        with pytest.raises(CorruptDataError, match="restore it from a backup"):
            call()
    snapshot = current_snapshot(gallery.path / "index")
    reopened.close()
    assert current_snapshot(gallery.path / "index") == snapshot  # a damaged gallery saves nothing
    Gallery.open(gallery.path).remove()  # the remedy: build it again
    assert not gallery.path.exists()
