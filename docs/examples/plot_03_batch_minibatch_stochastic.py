"""
Batch, mini-batch and stochastic gradient descent
=================================================

The same linear regression (``w = [2, -3, 1.5]``, ``b = 4``, noise 0.1) trained three
ways: full batch (``batch_size=None``), mini-batches of 32 and one row at a time
(``batch_size=1``). The batch gradient is the mean over the batch, so one ``eta0`` means
one step size at every batch size; the three runs recover the parameters to 0.05.
"""

from fastgd import demo

result = demo.batch_minibatch_stochastic(size="small")
print(result)
