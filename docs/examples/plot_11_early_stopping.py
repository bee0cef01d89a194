"""
Early stopping on a validation split
====================================

``early_stopping=True`` holds out ``validation_fraction`` of the rows and stops when
their score has not improved for ``n_iter_no_change`` epochs (scikit-learn's rule).
"""

from fastgd import demo

result = demo.early_stopping(size="small")
print(result)
