import subprocess
import sys


def test_importing_keras_through_the_backend_prints_nothing():
    code = (
        "from aesearch_utils.backend import keras\n"
        "keras.layers.Dense(2)(keras.ops.ones((1, 3)))\n"
        "print(keras.backend.backend())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "tensorflow"
    assert result.stderr == ""
