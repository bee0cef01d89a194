"""
Momentum against plain gradient descent
=======================================

On the elongated bowl ``f(x, y) = (x^2 + 25 y^2) / 2`` with the same ``eta0 = 0.035``,
plain gradient descent crawls along the flat direction while momentum 0.7 gets there
several times faster; the same holds for a linear regression with badly scaled
features (``optimizer="momentum"``, mini-batches of 32).
"""

from fastgd import demo

result = demo.momentum_vs_plain(size="small")
print(result)
