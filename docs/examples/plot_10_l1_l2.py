"""
L1 and L2 penalties
===================

``penalty="l1"`` sets the coefficients of irrelevant features to exactly zero
(Tsuruoka's cumulative penalty, as scikit-learn); ``penalty="l2"`` shrinks every
coefficient towards zero.
"""

from fastgd import demo

result = demo.l1_l2(size="small")
print(result)
