#!/usr/bin/env python3
"""Reference values for SpotTrain's Adam and SGD optimizers.

Writes Tests/SpotTrainTests/Optimizers/Fixtures/optimizer_reference.json, which the Swift
tests (OptimizerReferenceTests) compare against SpotTrain's Float32 implementation.

The formulas are those of torch.optim.Adam / torch.optim.AdamW and torch.optim.SGD
(dampening 0), implemented here with numpy in float64 so that PyTorch is not needed:

  Adam (Kingma & Ba 2015; decoupled weight decay as AdamW, Loshchilov & Hutter 2019),
  step t = 1, 2, ...:
      p <- p - lr * wd * p                      (only if wd > 0)
      m <- b1 * m + (1 - b1) * g
      v <- b2 * v + (1 - b2) * g^2
      mhat = m / (1 - b1^t),  vhat = v / (1 - b2^t)   (or m, v without bias correction)
      p <- p - lr * mhat / (sqrt(vhat) + eps)

  SGD (PyTorch, dampening 0):
      d <- g + wd * p                           (coupled L2 decay)
      b <- mu * b + d   (b = d on the first step; b starts at 0, which is the same)
      d <- d + mu * b if nesterov else b        (only if mu > 0)
      p <- p - lr * d

Inputs are made exactly representable in float32 (initial values and gradients are rounded
to float32 before the float64 computation), and so is the learning rate, because
SpotTrain's `learningRate` is a Float. The other hyperparameters are used exactly as
written; SpotTrain keeps them as Double. The run is deterministic (fixed seed): re-running
the script with the same numpy reproduces the committed file byte for byte. The inputs are
stored in the file too, so the Swift tests never depend on numpy's random streams.

Usage: python3 Scripts/optimizer_reference.py [output.json]
Requires only numpy.
"""

import json
import os
import sys

import numpy as np

STEPS = 6
SEED = 20240611

# Parameter tensors of different shapes (NHWC conv kernel, bias, dense weight).
PARAMETERS = [
    ("conv.weight", [3, 3, 1, 2]),
    ("conv.bias", [2]),
    ("dense.weight", [4, 3]),
]

# Gradient scale per step: large, small and tiny steps exercise the moments' memory.
GRADIENT_SCALES = [1.0, 0.1, 2.0, 1e-3, 0.5, 1.0]

CASES = [
    ("adam-keras-defaults", "Adam",
     dict(learningRate=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-7, weightDecay=0.0, biasCorrection=1)),
    ("adamw-pytorch-epsilon", "Adam",
     dict(learningRate=1e-2, beta1=0.8, beta2=0.99, epsilon=1e-8, weightDecay=0.1, biasCorrection=1)),
    ("adam-no-bias-correction", "Adam",
     dict(learningRate=5e-3, beta1=0.9, beta2=0.999, epsilon=1e-6, weightDecay=0.0, biasCorrection=0)),
    ("sgd-plain", "SGD",
     dict(learningRate=0.1, momentum=0.0, nesterov=0, weightDecay=0.0)),
    ("sgd-plain-weight-decay", "SGD",
     dict(learningRate=0.05, momentum=0.0, nesterov=0, weightDecay=0.01)),
    ("sgd-momentum", "SGD",
     dict(learningRate=0.1, momentum=0.9, nesterov=0, weightDecay=0.0)),
    ("sgd-nesterov-weight-decay", "SGD",
     dict(learningRate=0.05, momentum=0.9, nesterov=1, weightDecay=0.01)),
]


def f32(x):
    """Rounds to the nearest float32 and returns float64."""
    return np.asarray(x, dtype=np.float32).astype(np.float64)


def make_inputs():
    rng = np.random.default_rng(SEED)
    initial = [f32(rng.normal(0.0, 0.5, size=shape)) for _, shape in PARAMETERS]
    gradients = []
    for scale in GRADIENT_SCALES:
        step = [f32(rng.normal(0.0, scale, size=shape)) for _, shape in PARAMETERS]
        step[1][1] = 0.0  # one element that never gets a gradient
        gradients.append(step)
    return initial, gradients


def run_adam(h, initial, gradients):
    lr = float(f32(h["learningRate"]))
    b1, b2, eps, wd = h["beta1"], h["beta2"], h["epsilon"], h["weightDecay"]
    values = [p.copy() for p in initial]
    m = [np.zeros_like(p) for p in initial]
    v = [np.zeros_like(p) for p in initial]
    history = []
    for t, grads in enumerate(gradients, start=1):
        c1 = 1.0 - b1 ** t if h["biasCorrection"] else 1.0
        c2 = 1.0 - b2 ** t if h["biasCorrection"] else 1.0
        for i, g in enumerate(grads):
            if wd:
                values[i] = values[i] - lr * wd * values[i]
            m[i] = b1 * m[i] + (1.0 - b1) * g
            v[i] = b2 * v[i] + (1.0 - b2) * g * g
            mhat = m[i] / c1
            vhat = v[i] / c2
            values[i] = values[i] - lr * mhat / (np.sqrt(vhat) + eps)
        slots = {}
        for (name, _), mi, vi in zip(PARAMETERS, m, v):
            slots[name + ".m"] = mi.ravel().tolist()
            slots[name + ".v"] = vi.ravel().tolist()
        history.append(dict(values=[p.ravel().tolist() for p in values], slots=slots))
    return history


def run_sgd(h, initial, gradients):
    lr = float(f32(h["learningRate"]))
    mu, nesterov, wd = h["momentum"], h["nesterov"], h["weightDecay"]
    values = [p.copy() for p in initial]
    buffers = [None for _ in initial]
    history = []
    for grads in gradients:
        for i, g in enumerate(grads):
            d = g + wd * values[i] if wd else g
            if mu:
                buffers[i] = d.copy() if buffers[i] is None else mu * buffers[i] + d
                d = d + mu * buffers[i] if nesterov else buffers[i]
            values[i] = values[i] - lr * d
        slots = {}
        if mu:
            for (name, _), b in zip(PARAMETERS, buffers):
                slots[name + ".momentum"] = b.ravel().tolist()
        history.append(dict(values=[p.ravel().tolist() for p in values], slots=slots))
    return history


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default = os.path.join(here, "..", "Tests", "SpotTrainTests", "Optimizers", "Fixtures",
                           "optimizer_reference.json")
    output = sys.argv[1] if len(sys.argv) > 1 else default
    initial, gradients = make_inputs()
    cases = []
    for name, kind, h in CASES:
        run = run_adam if kind == "Adam" else run_sgd
        cases.append(dict(name=name, kind=kind,
                          hyperparameters={k: float(x) for k, x in h.items()},
                          steps=run(h, initial, gradients)))
    document = dict(
        generator="Scripts/optimizer_reference.py (numpy, float64)",
        parameters=[dict(name=n, shape=s, initial=p.ravel().tolist())
                    for (n, s), p in zip(PARAMETERS, initial)],
        gradients=[[g.ravel().tolist() for g in step] for step in gradients],
        cases=cases,
    )
    with open(output, "w") as f:
        json.dump(document, f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote %s (%d cases, %d steps)" % (os.path.normpath(output), len(cases), STEPS))


if __name__ == "__main__":
    main()
