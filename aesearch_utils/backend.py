"""Keras 3 on the TensorFlow backend, imported once and quietly.

Importing TensorFlow prints CUDA-stub, oneDNN and CPU-feature notices from
C++ straight to file descriptor 2, before absl's logging is configured, and
the first device use on a machine without a GPU logs a ``cuInit`` error, so
``TF_CPP_MIN_LOG_LEVEL`` alone cannot hide all of them. This module is the one
place that deals with it: it sets the environment (without overriding a value
the user chose) and silences file descriptor 2 only for the duration of the
first import. Python exceptions raised by the import still propagate.

Use ``from aesearch_utils.backend import keras`` wherever Keras is needed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# Level 3 also hides C++ "errors" such as oneDNN's one-time notice that it falls
# back to Eigen for int32 ops; real failures still raise Python exceptions.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# TensorFlow turns its oneDNN kernels on by itself only on CPUs with AVX-512
# VNNI, BF16 or AMX; elsewhere convolutions fall back to Eigen's, which trained
# every one of our conv models slower on an AVX2-only 2-core CPU, most of them
# about half as fast (the README's training speed table). Asking for oneDNN
# everywhere costs nothing where it was on already; a user's own setting wins.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


@contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    try:
        stderr_fd = sys.__stderr__.fileno() if sys.__stderr__ else 2
        saved_fd = os.dup(stderr_fd)
    except (OSError, ValueError):  # no real stderr (some embedded interpreters)
        yield
        return
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), stderr_fd)
        try:
            yield
        finally:
            os.dup2(saved_fd, stderr_fd)
            os.close(saved_fd)


with _native_stderr_silenced():
    import keras
    import tensorflow as tf

    # Listing devices initialises the CUDA stub now, while its "no driver"
    # notice is still silenced, instead of at the first model call.
    tf.config.list_physical_devices()

tf.get_logger().setLevel("ERROR")

__all__ = ["keras", "tf"]
