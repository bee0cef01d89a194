"""
Stopping on a tolerance
=======================

:func:`fastgd.minimize` stops when the gradient norm falls below ``tol``; a smaller
tolerance takes more iterations. The figure shows the gradient norm of each run.
"""

from fastgd import demo

result = demo.tolerance_stop(size="small")
print(result)
