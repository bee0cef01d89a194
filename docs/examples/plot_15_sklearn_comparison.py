"""
fastgd next to scikit-learn
===========================

One epoch of shuffled per-sample SGD with fastgd's and scikit-learn's
``SGDRegressor`` on standardised data (timed), and the same run unshuffled, where the
two libraries take identical steps. Then a logistic regression with Adam in batches
of 64 (fastgd only). The timings of this small run (20,000 rows) are dominated by
per-call overhead; :doc:`/benchmarks` has the measured speed.
"""

from fastgd import demo

result = demo.sklearn_comparison(size="small")
print(result)
