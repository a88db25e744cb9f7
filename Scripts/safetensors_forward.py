#!/usr/bin/env python3
"""Evaluate a SpotTrain mnist_cnn safetensors export with numpy alone.

Usage: safetensors_forward.py WEIGHTS DATA_DIR [--test-limit N]

Loads WEIGHTS with the `safetensors` package (numpy backend), runs the mnist_cnn forward
pass in inference mode (dropout off) on the first N MNIST test images read from DATA_DIR's
t10k-images-idx3-ubyte[.gz] / t10k-labels-idx1-ubyte[.gz] (pixels / 255, NHWC), and prints
one JSON line: {"test_accuracy": ..., "correct": ..., "count": ..., "weights_sha256": ...}, the
last being the SHA-256 of the parameters as little-endian float32 in mnist_cnn's canonical
order (what `spottrain train --summary` reports as weights_sha256).

The model, in SpotTrain's layouts (NHWC; conv kernels [kh, kw, in, out]; dense [in, out];
flatten in NHWC order), see Sources/SpotTrain/Layers/Models.swift:
  conv1 3x3 valid, 32, ReLU -> conv2 3x3 valid, 64, ReLU -> max pool 2x2 -> flatten
  -> dense1 128, ReLU -> dense2 10 (logits; argmax = softmax argmax).
"""
import argparse
import gzip
import hashlib
import json
import os
import struct
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file


def read_idx(data_dir, stem):
    for name in (stem, stem + ".gz"):
        path = os.path.join(data_dir, name)
        if os.path.exists(path):
            opener = gzip.open if name.endswith(".gz") else open
            with opener(path, "rb") as f:
                data = f.read()
            break
    else:
        sys.exit(f"safetensors_forward: no {stem}[.gz] in {data_dir}")
    zero, dtype, rank = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        sys.exit(f"safetensors_forward: {stem}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * rank, data[4:4 + 4 * rank])
    values = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank)
    return values.reshape(dims)


def conv_valid_relu(x, kernel, bias):
    """x [N, H, W, C] , kernel [kh, kw, C, O] -> relu(conv) [N, H-kh+1, W-kw+1, O]."""
    kh, kw, _, out = kernel.shape
    n, h, w, _ = x.shape
    oh, ow = h - kh + 1, w - kw + 1
    y = np.zeros((n, oh, ow, out), dtype=np.float64)
    for i in range(kh):
        for j in range(kw):
            y += x[:, i:i + oh, j:j + ow, :] @ kernel[i, j]
    return np.maximum(y + bias, 0.0)


def max_pool_2x2(x):
    n, h, w, c = x.shape
    h2, w2 = h // 2, w // 2
    x = x[:, :2 * h2, :2 * w2, :].reshape(n, h2, 2, w2, 2, c)
    return x.max(axis=(2, 4))


def forward(weights, images):
    x = images
    x = conv_valid_relu(x, weights["conv1.weight"], weights["conv1.bias"])
    x = conv_valid_relu(x, weights["conv2.weight"], weights["conv2.bias"])
    x = max_pool_2x2(x)
    x = x.reshape(x.shape[0], -1)  # NHWC flatten: row-major over (H, W, C)
    x = np.maximum(x @ weights["dense1.weight"] + weights["dense1.bias"], 0.0)
    return x @ weights["dense2.weight"] + weights["dense2.bias"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("weights")
    parser.add_argument("data_dir")
    parser.add_argument("--test-limit", type=int, default=None)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()

    with safe_open(args.weights, framework="np") as f:
        metadata = f.metadata() or {}
    if metadata.get("format") != "spottrain":
        sys.exit(f"safetensors_forward: {args.weights}: __metadata__ format is {metadata.get('format')!r}, not 'spottrain'")
    loaded = load_file(args.weights)
    order = ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
             "dense1.weight", "dense1.bias", "dense2.weight", "dense2.bias"]
    if set(loaded) != set(order):
        sys.exit(f"safetensors_forward: tensors {sorted(loaded)} are not those of mnist_cnn")
    digest = hashlib.sha256()
    for name in order:
        digest.update(loaded[name].astype("<f4", copy=False).tobytes(order="C"))
    weights = {name: t.astype(np.float64) for name, t in loaded.items()}

    images = read_idx(args.data_dir, "t10k-images-idx3-ubyte")
    labels = read_idx(args.data_dir, "t10k-labels-idx1-ubyte")
    count = min(len(images), len(labels))
    if args.test_limit is not None:
        count = min(count, args.test_limit)
    correct = 0
    for start in range(0, count, args.batch):
        end = min(start + args.batch, count)
        # Pixels / 255 in Float32, as SpotTrain's loader computes them.
        x = (images[start:end].astype(np.float32) / np.float32(255)).astype(np.float64)[..., None]
        logits = forward(weights, x)
        correct += int((logits.argmax(axis=1) == labels[start:end]).sum())
    accuracy = correct / count if count else float("nan")
    print(json.dumps({"test_accuracy": accuracy, "correct": correct, "count": count,
                      "weights_sha256": digest.hexdigest()}))


if __name__ == "__main__":
    main()
