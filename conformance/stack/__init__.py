"""The stack under test: which Keras backend, how many devices, and the machine's profile."""
