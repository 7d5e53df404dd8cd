"""Upgrades: compare two software stacks, and bisect the release that changed an example.

* :mod:`~conformance.upgrade.stacks` — a stack spec (``"keras==3.10.*,tensorflow-cpu==2.19.*"``) and its
  environment: a virtualenv with this project and the spec's pins, cached under ``.nox/stacks/<hash>``.
* :mod:`~conformance.upgrade.runs` — ``python -m conformance run`` inside an environment, once per seed, and
  the run files read back.
* :mod:`~conformance.upgrade.spread` — the rule that calls a metric moved beyond its seed spread.
* :mod:`~conformance.upgrade.report` — the report between two stacks (Markdown and JSON).
* :mod:`~conformance.upgrade.registry` — released versions from PyPI (or a folder of wheels), and which of
  them this Python can install.
* :mod:`~conformance.upgrade.verdicts` — one check's verdict, or one metric's values, over the seeds.
* :mod:`~conformance.upgrade.bisect` — the search over ordered versions, skipping the uninstallable ones.
* :mod:`~conformance.upgrade.workflows` — ``compare-stacks`` and ``bisect`` as the CLI runs them.
"""
