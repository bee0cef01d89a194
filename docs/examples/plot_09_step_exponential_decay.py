"""
Step and exponential decay
==========================

``learning_rate="step"`` halves the rate every ``step_size`` updates (``gamma=0.5``);
``learning_rate="exponential"`` multiplies it by ``gamma`` at every update. Both settle
closer to the solution than the constant rate they start from.
"""

from fastgd import demo

result = demo.step_exponential_decay(size="small")
print(result)
