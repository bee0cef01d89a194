"""
Adam and RMSprop
================

The paths of ``optimizer="adam"`` and ``optimizer="rmsprop"`` (torch.optim's formulas)
on ``f(x, y) = x^2 + 2 y^2``, and the same optimizers training a linear regression in
mini-batches.
"""

from fastgd import demo

result = demo.adam_rmsprop(size="small")
print(result)
