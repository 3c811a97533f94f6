"""Numbers published in the seed reports (``../shared/seeds/``), quoted for comparison.

These are *their* figures, typed from the reports with their source, never
ours: ours come from the notebooks and live in ``results/``. The reports give
training MSE only (no test MSE), for four approaches:

- report A: ``000_4d819ebe42685016.txt`` (slides; "Us" on MNIST and Fashion-MNIST);
- report B: ``001_2b12bf94624ce33b.txt`` (the written report of the same team,
  with different numbers for the same approaches);
- "them": the blog-post models both reports compare against (MNIST only).
"""

from __future__ import annotations

REPORTED_TRAIN_MSE: dict[str, dict[str, dict[str, float]]] = {
    "dense": {
        "them": {"mnist": 0.0214},
        "report A": {"mnist": 0.0026, "fashion_mnist": 0.00543},
        "report B": {"mnist": 0.0013, "fashion_mnist": 0.0034},
    },
    "conv_upsampling": {
        "them": {"mnist": 0.0407},
        "report A": {"mnist": 0.0065, "fashion_mnist": 0.0131},
        "report B": {"mnist": 0.0032, "fashion_mnist": 0.0073},
    },
    "conv_transpose": {
        "them": {"mnist": 0.0297},
        "report A": {"mnist": 0.0091, "fashion_mnist": 0.049},
        "report B": {"mnist": 0.024, "fashion_mnist": 0.014},
    },
    "conv_fc_upsampling": {
        "them": {"mnist": 0.0173},
        "report A": {"mnist": 0.0050, "fashion_mnist": 0.0091},
        "report B": {"mnist": 0.0028, "fashion_mnist": 0.0068},
    },
}
"""model name -> source -> dataset -> reported training MSE."""


def reported(model: str, source: str, dataset: str) -> float | None:
    """The reported training MSE, or ``None`` where the reports give none."""
    return REPORTED_TRAIN_MSE.get(model, {}).get(source, {}).get(dataset)
