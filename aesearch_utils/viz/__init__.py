"""What the student sees: figures (:mod:`~aesearch_utils.viz.figures`), walks through a latent
space (:mod:`~aesearch_utils.viz.latent`) and their ipywidgets sliders
(:mod:`~aesearch_utils.viz.widgets`). The search core never imports this package."""
