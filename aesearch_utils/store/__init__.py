"""Galleries that grow while they serve: a durable record, searched indexes, a pipeline.

- :mod:`~aesearch_utils.store.record`: SQLite in WAL mode, the durable record of every item
  (id, label, image, vectors); an acknowledged addition survives a killed process.
- the vectors are searched in the search core's index
  (:mod:`~aesearch_utils.search.vector_index`): FAISS in memory (the embedded default) or
  Milvus through ``pymilvus`` (Milvus Lite, a server or a cluster), chosen by one URI.
- :mod:`~aesearch_utils.store.gallery`: a :class:`~aesearch_utils.store.gallery.Gallery`
  ties them to a fitted search pipeline: build, open, search, add, delete.
- :mod:`~aesearch_utils.store.locking`: one process holds an open gallery folder; a second
  opener is refused rather than left to drift.
- :mod:`~aesearch_utils.store.milvus_record`: with a Milvus server, the whole record in Milvus
  instead (:class:`~aesearch_utils.store.gallery.SharedGallery`), so that any number of
  processes serve one gallery.

The store builds on the search core and never imports the service, the course or the figures.
"""

from aesearch_utils.store.gallery import Gallery

__all__ = ["Gallery"]
