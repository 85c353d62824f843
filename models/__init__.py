"""ML model code (TensorFlow/Keras) and versioned artifacts for the optimizer.

Talks to consensus only through the knob API (`BatchKnobs`), never its internals.
"""
