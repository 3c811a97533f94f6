"""The package's own code, shown in a notebook: the mechanism in view, with no copy to drift.

A chapter trains a model the package builds (the search pipelines and the service rebuild the
same models by name), so the notebook shows that very function rather than a copy of it that
could drift from what trains. A student who wants to change it copies the shown source into a
cell, edits it, and registers it under a new name (``register(name, replace=True)``): training
then builds their edit, and the training cache keys it by its source.
"""

from __future__ import annotations

import inspect
import textwrap

from IPython.display import Code


def show_source(*objects: object) -> Code:
    """The source code of each function or class, highlighted as Python (blank line between)."""
    if not objects:
        raise TypeError("show_source needs at least one function or class to show")
    return Code(
        "\n\n".join(textwrap.dedent(inspect.getsource(item)) for item in objects),
        language="python",
    )
