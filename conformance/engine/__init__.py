"""The conformance engine: find the book's examples, run them, judge their outcomes against golden files.

``registry`` finds the examples, ``runner`` runs one under ``Settings``, ``golden`` loads the
expectations, ``checks`` judges them, ``record`` re-records measured values, ``summary`` prints
the end-of-run table, and ``plugin`` + ``suite`` make each example a pytest item.
"""
