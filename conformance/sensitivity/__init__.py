"""Fault sensitivity: plant faults in Keras-level behaviour and see which checks catch them."""
