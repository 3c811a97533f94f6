"""The course machinery: run profiles, the headless notebook runner, the measurements and
results rows of notebooks 02-12, the validation ablation, and the README's generated tables.

It builds on the core (:mod:`aesearch_utils.data`, :mod:`~aesearch_utils.models`,
:mod:`~aesearch_utils.training`, :mod:`~aesearch_utils.search`); the core never imports it.
"""
