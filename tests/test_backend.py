import os
import subprocess
import sys

# A few batches of numpy data through convolution, pooling and up-sampling: enough
# to make TensorFlow log its start-up notices and oneDNN's first-use notice (from
# UpSampling2D) if they are not silenced.
TRAIN_A_LITTLE = """
import numpy as np
from aesearch_utils.backend import keras
layers = keras.layers
model = keras.Sequential(
    [keras.Input((8, 8, 1)), layers.Conv2D(2, 3, padding="same"), layers.MaxPooling2D(2),
     layers.UpSampling2D(2)]
)
model.compile("adam", "mse")
model.fit(np.ones((300, 8, 8, 1), "float32"), np.ones((300, 8, 8, 2), "float32"), verbose=0)
print(keras.backend.backend())
"""


def test_importing_and_training_through_the_backend_prints_nothing():
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    result = subprocess.run(
        [sys.executable, "-c", TRAIN_A_LITTLE],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env=environment,
    )
    assert result.stdout.strip() == "tensorflow"
    assert result.stderr == ""
