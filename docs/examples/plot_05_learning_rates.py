"""
Choosing the learning rate
==========================

Gradient descent on ``f(x) = x^2`` from ``x = 5`` with :func:`fastgd.minimize`. Each
step is ``x <- (1 - 2 eta) x``: a rate that is too small is slow, rates up to 1 converge
(oscillating above 0.5) and rates above 1 diverge, which ``minimize`` reports instead of
returning infinities.

.. code-block:: python

    res = fastgd.minimize(f, grad, [5.0], eta0=eta, tol=1e-6, max_iter=1000)
    res.message, res.n_iter
"""

from fastgd import demo

result = demo.learning_rates(size="small")
print(result)
