"""Label encoding for the streaming fast path of ``SGDClassifier.partial_fit``."""

from __future__ import annotations

from ._jit import kernel


@kernel
def encode_binary(y, negative, positive, out):
    """``out[i] = +1.0`` where ``y[i] == positive``, ``-1.0`` where ``y[i] == negative``.

    One pass, no temporaries. Returns False (and leaves ``out`` partly written) as
    soon as a label is neither, so the caller can report it through the general path.
    """
    for i in range(y.shape[0]):
        v = y[i]
        if v == positive:
            out[i] = 1.0
        elif v == negative:
            out[i] = -1.0
        else:
            return False
    return True
