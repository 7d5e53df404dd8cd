"""Benchmarks: training throughput of the book's models over precision × device count.

``runner`` plans and starts one pytest process per device count, ``plugin`` + ``suite`` are what
those processes run (under pytest-benchmark), ``models`` reads the benchmark metadata declared on
the reference builders, ``measurements`` turns timings into figures, ``baseline`` files and reads
``golden/bench/<profile-id>.json``.
"""
