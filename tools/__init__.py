"""Maintainer tools: what authors and CI run, never a learner's kernel (that is ``helpers``).

    python -m tools catalog --check|--write     # the course catalog and what it generates
    python -m tools execute [NOTEBOOK ...]      # re-run notebooks for real and store their outputs
    python -m tools edition learner DIR         # the learner edition
    python -m tools pages OUT                   # the static site
    python -m tools links [--repo OWNER/NAME]   # Binder/Colab launch links
    python -m tools lock check|freeze|diff|readme   # the lock (constraints.txt)
    python -m tools.bench_labserver             # lab server speed

Every notebook run (execute, the exercise and namespace tests, nbval's kernels) goes through
``tools.runner``.
"""
