"""Limited-precision training (Gupta et al. 2015) of the digits MLP in <IL,FL> fixed point.

Model and data: golden.mlp.LAYER_SIZES (64-64-32-10, ReLU) on the project's fixed digits split
(golden.digits). Training: plain mini-batch SGD (the paper's optimiser) on the mean softmax
cross-entropy, He-normal initialisation and per-epoch shuffles from numpy default_rng(seed) exactly
as golden.mlp.train_mlp draws them, so the float baseline and every fixed-point run start from
the same weights and see the same batches. Rounding randomness comes from a second generator,
default_rng([seed, 1]), so it never shifts the shuffles.

What is held in <IL,FL> (one format for everything, values on the grid eps = 2^-FL, saturated),
each rounded once with the run's mode (golden.fixedpoint.quantize) right after it is formed:
  weights and biases (the He-normal init, and every updated value  W <- Q(W - lr * gW)),
  the input pixels, every layer's pre-activation z = W a + b (an exact dot product: all operands
  are on the grid and float64 holds every partial sum exactly), so ReLU outputs are on the grid,
  the output error delta = Q((softmax - onehot) / batch), every back-propagated error
  Q((delta W) * relu'), and the gradients gW = Q(delta^T a), gb = Q(sum delta).
The softmax itself is float64. Test error is measured after every epoch with the same
fixed-point forward pass using round-to-nearest (deterministic inference) for both modes.

Counted per run: weight/bias updates rounded to zero (lr * g != 0 but the stored value did not
change) and gradient elements rounded to zero (exact gradient != 0, rounded gradient == 0), out
of the proposed non-zero ones. A float run (fmt None) does the same steps without Q.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from .digits import load_digits_split
from .errors import QuantpeError
from .fixedpoint import FixedFormat, check_mode, quantize
from .mlp import LAYER_SIZES, check_batch

__all__ = ["TrainSetup", "RunResult", "train_fixed", "DEFAULT_POINTS", "LONG_POINTS",
           "DEFAULT_ACT_ILS", "run_experiment"]


@dataclasses.dataclass(frozen=True)
class TrainSetup:
    """Seed, epochs, learning rate and batch size shared by the float baseline and every run."""

    seed: int = 0
    epochs: int = 30
    lr: float = 0.1
    batch_size: int = 32

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 1:
            raise QuantpeError(f"need epochs >= 1 and batch_size >= 1, got {self.epochs}, {self.batch_size}")
        if not (np.isfinite(self.lr) and self.lr > 0):
            raise QuantpeError(f"learning rate must be a positive number, got {self.lr}")


@dataclasses.dataclass
class RunResult:
    label: str
    wl: int | None
    fl: int | None
    mode: str | None
    act_il: int | None          # None: activations share the weights' format
    test_error: list            # after each epoch (fraction)
    train_loss: list            # mean training loss of each epoch
    updates_zeroed: int
    updates_proposed: int
    grads_zeroed: int
    grads_nonzero: int
    updates_below_half_eps: int     # proposed updates with 0 < |lr * g| < eps/2 (RN always drops them)
    update_applied_ratio: float     # sum((old - new) * sign(lr g)) / sum|lr g|: 1 = nothing lost
    max_abs_hidden: float           # largest hidden ReLU output seen in training
    max_abs_logit: float            # largest |logit| seen in training
    seconds: float

    @property
    def final_accuracy(self) -> float:
        return 1.0 - self.test_error[-1]

    @property
    def zeroed_fraction(self) -> float:
        return self.updates_zeroed / max(self.updates_proposed, 1)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.update(final_accuracy=self.final_accuracy, zeroed_fraction=self.zeroed_fraction)
        return d


def _forward(params, x, q):
    """Layer inputs [a0, a1, ...] and logits; q rounds (identity for float)."""
    acts = [q(x)]
    a = acts[0]
    n = len(params) // 2
    for i in range(n):
        z = q(a @ params[2 * i].T + params[2 * i + 1])
        if i < n - 1:
            a = np.maximum(z, 0.0)
            acts.append(a)
    return acts, z


def train_fixed(fmt: FixedFormat | None, mode: str | None, setup: TrainSetup = TrainSetup(),
                data=None, label: str | None = None, act_il: int | None = None) -> RunResult:
    """Train the digits MLP with `setup`; fmt None = float64 baseline (mode ignored).

    act_il: None = one format `fmt` for everything; an int = activations, pre-activations and
    back-propagated errors in <act_il, fmt.fl> (same step eps, wider range), weights, biases,
    gradients and updates still in `fmt`.
    Long: the training loop with its rounding points in order (Gupta et al. 2015)."""
    data = data or load_digits_split()
    x_tr = check_batch(data.x_train, LAYER_SIZES[0], "training input")
    x_te = check_batch(data.x_test, LAYER_SIZES[0], "test input")
    y_tr, y_te = np.asarray(data.y_train, np.int64), np.asarray(data.y_test, np.int64)
    if fmt is not None:
        check_mode(mode)
    rng = np.random.default_rng(setup.seed)
    rrng = np.random.default_rng([setup.seed, 1])
    if fmt is None:
        def q(v):
            return v
        qa = q_eval = q
    else:
        afmt = fmt if act_il is None else FixedFormat(act_il, fmt.fl)

        def q(v):
            return quantize(v, fmt, mode, rrng)

        def qa(v):
            return quantize(v, afmt, mode, rrng)

        def q_eval(v):
            return quantize(v, afmt, "nearest")
    params = []
    for fan_in, fan_out in zip(LAYER_SIZES[:-1], LAYER_SIZES[1:]):
        params.append(q(rng.standard_normal((fan_out, fan_in)) * np.sqrt(2.0 / fan_in)))
        params.append(q(np.zeros(fan_out)))
    n_layers = len(params) // 2
    test_error, train_loss = [], []
    upd_zero = upd_prop = g_zero = g_nz = below = 0
    applied = proposed = max_h = max_z = 0.0
    half_eps = 0.0 if fmt is None else fmt.eps / 2
    t0 = time.perf_counter()
    for _ in range(setup.epochs):
        order = rng.permutation(len(x_tr))
        losses = []
        for start in range(0, len(x_tr), setup.batch_size):
            idx = order[start:start + setup.batch_size]
            xb, yb = x_tr[idx], y_tr[idx]
            nb = len(idx)
            acts, logits = _forward(params, xb, qa)
            max_h = max(max_h, max(float(a.max()) for a in acts[1:]))
            max_z = max(max_z, float(np.abs(logits).max()))
            zc = logits - logits.max(axis=1, keepdims=True)
            logp = zc - np.log(np.sum(np.exp(zc), axis=1, keepdims=True))
            losses.append(-np.mean(logp[np.arange(nb), yb]))
            err = np.exp(logp)
            err[np.arange(nb), yb] -= 1.0
            delta = qa(err / nb)
            grads = [None] * len(params)
            for i in range(n_layers - 1, -1, -1):
                gw_exact, gb_exact = delta.T @ acts[i], delta.sum(axis=0)
                grads[2 * i], grads[2 * i + 1] = q(gw_exact), q(gb_exact)
                if fmt is not None:
                    for ge, g in ((gw_exact, grads[2 * i]), (gb_exact, grads[2 * i + 1])):
                        nz = ge != 0
                        g_nz += int(nz.sum())
                        g_zero += int((nz & (g == 0)).sum())
                if i > 0:
                    delta = qa((delta @ params[2 * i]) * (acts[i] > 0))
            for j, g in enumerate(grads):
                step = setup.lr * g
                new = q(params[j] - step)
                prop = step != 0
                upd_prop += int(prop.sum())
                upd_zero += int((prop & (new == params[j])).sum())
                below += int((prop & (np.abs(step) < half_eps)).sum())
                applied += float(np.sum((params[j] - new) * np.sign(step)))
                proposed += float(np.sum(np.abs(step)))
                params[j] = new
        train_loss.append(float(np.mean(losses)))
        _, logits = _forward(params, x_te, q_eval)
        test_error.append(float(np.mean(np.argmax(logits, axis=1) != y_te)))
    if label is None:
        label = "float" if fmt is None else (f"WL{fmt.wl} FL{fmt.fl} {mode}"
                                             + (f" actIL{act_il}" if act_il else ""))
    return RunResult(label=label, wl=None if fmt is None else fmt.wl, fl=None if fmt is None else fmt.fl,
                     act_il=None if fmt is None else act_il,
                     mode=None if fmt is None else mode, test_error=test_error, train_loss=train_loss,
                     updates_zeroed=upd_zero, updates_proposed=upd_prop, grads_zeroed=g_zero,
                     grads_nonzero=g_nz, updates_below_half_eps=below,
                     update_applied_ratio=applied / proposed if proposed else 1.0,
                     max_abs_hidden=max_h, max_abs_logit=max_z,
                     seconds=time.perf_counter() - t0)


# (WL, FL) points of the default experiment and of the long sweep (`--long`)
DEFAULT_POINTS = ((16, 14), (16, 12), (16, 10), (16, 8), (12, 8), (12, 6), (8, 6), (8, 4))
LONG_POINTS = tuple((wl, fl) for wl in (8, 10, 12, 14, 16) for fl in range(2, wl - 1))
# activation formats: None = everything in <WL-FL, FL> (the paper's single format); 6 = activations
# and errors in <6, FL> (same step, range +-32: the digits MLP's pre-activations reach ~20)
DEFAULT_ACT_ILS = (None, 6)


def run_experiment(points=DEFAULT_POINTS, modes=("nearest", "stochastic"), act_ils=DEFAULT_ACT_ILS,
                   setup: TrainSetup = TrainSetup(), progress=None) -> list[RunResult]:
    """The float baseline followed by every activation format x (WL, FL) x mode, all with `setup`."""
    runs = [train_fixed(None, None, setup)]
    if progress:
        progress(runs[-1])
    for act_il in act_ils:
        for wl, fl in points:
            for mode in modes:
                runs.append(train_fixed(FixedFormat.from_wl(wl, fl), mode, setup, act_il=act_il))
                if progress:
                    progress(runs[-1])
    return runs
