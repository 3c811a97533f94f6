"""aesearch_utils: the package behind the aesearch notebooks and search service.

The core, which programs reuse:

- :mod:`aesearch_utils.data`: datasets (offline first), image folders, preprocessing, noise;
- :mod:`aesearch_utils.models`: the autoencoder registry;
- :mod:`aesearch_utils.training`: seeded training, the model cache, the course's recipes;
- :mod:`aesearch_utils.search`: encoders, vector indexes, whitening, re-ranking, metrics,
  search pipelines (saved and reopened) and their registry;

and beside it, never imported by the core:

- :mod:`aesearch_utils.viz`: figures, latent-space views, widgets;
- :mod:`aesearch_utils.course`: run profiles, the notebook runner, measurements and reports.

``config``, ``errors``, ``io``, ``batching``, ``seeding`` and ``backend`` are the
foundations every part shares.
"""

__version__ = "0.1.0"
