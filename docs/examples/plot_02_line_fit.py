"""
Fitting a line: the published numbers
======================================

``y = 0.5 x + 2`` for ``x = 1..300``, 200,000 full-batch epochs from zero. The
tutorial's ``eta = 1e-4`` on ``X^T (p - y) / (2 n)`` is fastgd's ``eta0 = 5e-5``. The
unscaled feature makes the intercept crawl: after 200,000 epochs the tutorial prints
``w = 0.5008287639956263``, ``b = 1.8339723159878247``, and fastgd reproduces both to
1e-9. Standardising ``x`` first reaches ``w = 0.5``, ``b = 2`` in a few hundred epochs.

.. code-block:: python

    SGDRegressor(batch_size=None, learning_rate="constant", eta0=5e-5, penalty=None,
                 tol=None, max_iter=200_000, shuffle=False).fit(x[:, None], y)
"""

from fastgd import demo

result = demo.line_fit(size="small")
print(result)
