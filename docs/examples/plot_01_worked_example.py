"""
The worked example: one mini-batch step by hand
===============================================

Twelve observations of ``y = 1.5 x1 + 1.5 x2 + 0.1``, mini-batches of 3 in order,
starting from ``w0 = [1, 1]``, ``b0 = 0``. The tutorial's ``eta = 0.1`` on the
mean-squared-error gradient is fastgd's ``eta0 = 0.2``. The first batch gives the
published ``w1 = [1.6, 1.42666667]``, ``b1 = 0.32``; more epochs recover ``[1.5, 1.5]``
and ``0.1``.

The fastgd call (:func:`fastgd.demo.worked_example` runs it and checks the numbers):

.. code-block:: python

    model = SGDRegressor(batch_size=3, shuffle=False, learning_rate="constant", eta0=0.2,
                         penalty=None, tol=None, max_iter=1)
    model.fit(X[:3], y[:3], coef_init=[1.0, 1.0], intercept_init=0.0)
"""

from fastgd import demo

result = demo.worked_example(size="small")
print(result)
