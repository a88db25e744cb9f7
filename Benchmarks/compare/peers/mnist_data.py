"""Load the real MNIST IDX files (gzipped) with numpy only. Never downloads.

Location: the MNIST_DIR environment variable (compare.sh sets it), else the first
`Data/mnist` (the repository's copy) or `shared/data/mnist` folder found walking up from
this file, or the `data_dir` argument.
"""
import gzip
import os

import numpy as np

def _find_default_dir():
    if os.environ.get("MNIST_DIR"):
        return os.environ["MNIST_DIR"]
    d = os.path.dirname(os.path.abspath(__file__))
    while True:
        for candidate in (os.path.join(d, "Data", "mnist"), os.path.join(d, "shared", "data", "mnist")):
            if os.path.isfile(os.path.join(candidate, "train-images-idx3-ubyte.gz")):
                return candidate
        parent = os.path.dirname(d)
        if parent == d:
            raise FileNotFoundError("MNIST not found: set MNIST_DIR to the folder with the *-ubyte.gz files")
        d = parent


DEFAULT_DIR = _find_default_dir()


def _read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic = int.from_bytes(raw[0:4], "big")
    dtype_code, ndim = (magic >> 8) & 0xFF, magic & 0xFF
    if magic >> 16 != 0 or dtype_code != 0x08:  # 0x08 = unsigned byte
        raise ValueError(f"{path}: not an unsigned-byte IDX file (magic {magic:#x})")
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: expected {dims}, got {data.size} bytes")
    return data.reshape(dims)


def load_mnist(data_dir=DEFAULT_DIR):
    """Returns (x_train, y_train), (x_test, y_test).

    x: float32 in [0, 1], shape (N, 28, 28, 1) (NHWC); y: int64 labels 0..9.
    """
    def images(name):
        x = _read_idx(os.path.join(data_dir, name))
        return (x.astype(np.float32) / 255.0)[..., None]

    def labels(name):
        return _read_idx(os.path.join(data_dir, name)).astype(np.int64)

    x_train = images("train-images-idx3-ubyte.gz")
    y_train = labels("train-labels-idx1-ubyte.gz")
    x_test = images("t10k-images-idx3-ubyte.gz")
    y_test = labels("t10k-labels-idx1-ubyte.gz")
    assert x_train.shape == (60000, 28, 28, 1) and y_train.shape == (60000,)
    assert x_test.shape == (10000, 28, 28, 1) and y_test.shape == (10000,)
    return (x_train, y_train), (x_test, y_test)


if __name__ == "__main__":
    (xtr, ytr), (xte, yte) = load_mnist()
    print(f"x_train={xtr.shape} {xtr.dtype} min={xtr.min()} max={xtr.max()} "
          f"y_train={ytr.shape} counts={np.bincount(ytr).tolist()}")
    print(f"x_test={xte.shape} y_test={yte.shape} counts={np.bincount(yte).tolist()}")
