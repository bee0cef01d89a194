"""
Why mini-batches are reshuffled
===============================

Data sorted by target, trained in mini-batches with and without ``shuffle=True``.
Unshuffled, every epoch ends on the batches with the largest targets and the model is
pulled towards them; reshuffling every epoch (a new permutation drawn from
``random_state``) removes that bias.
"""

from fastgd import demo

result = demo.shuffled_minibatches(size="small")
print(result)
