"""Search by image as a web service: a FastAPI app over galleries, its page, and its CLI.

:mod:`~aesearch_utils.service.app` serves the JSON API and the page,
:mod:`~aesearch_utils.service.uploads` turns an uploaded file into a gallery-shaped image (or a
clear error), :mod:`~aesearch_utils.service.cli` is ``aesearch serve`` and ``aesearch build``.
The service depends on the store and the search core; nothing in the core depends on it.
"""
