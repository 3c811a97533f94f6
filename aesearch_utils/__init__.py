"""aesearch_utils: the helper package behind the aesearch notebooks.

The notebooks tell the story; this package does the work: loading datasets
(:mod:`aesearch_utils.data`), drawing figures (:mod:`aesearch_utils.viz`),
choosing a run profile (:mod:`aesearch_utils.profiles`) and executing the
notebooks headless (:mod:`aesearch_utils.run`).
"""

__version__ = "0.1.0"
