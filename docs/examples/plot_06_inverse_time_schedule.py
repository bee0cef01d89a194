"""
A decaying learning rate ``a / (t + b)``
========================================

The tutorial's ``eta_t = a / (t + b)`` (``t`` counting from 0) is
``learning_rate="inverse_time"`` with ``eta0 = a / b`` and ``t0 = b``. On noisy data a
constant rate keeps jittering around the solution; the decaying one settles closer.
"""

from fastgd import demo

result = demo.inverse_time_schedule(size="small")
print(result)
