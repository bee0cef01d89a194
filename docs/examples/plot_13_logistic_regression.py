"""
Logistic regression by gradient descent
=======================================

``SGDClassifier(loss="log_loss", batch_size=None, learning_rate="constant")`` on data
drawn from a known logistic model: full-batch gradient descent recovers the model's
coefficients, and ``predict_proba`` gives the probabilities.
"""

from fastgd import demo

result = demo.logistic_regression(size="small")
print(result)
