"""Reports: a run against its baseline, judged by ``stats``; ``compare`` builds the verdicts,
``markdown`` and ``html`` write them."""
