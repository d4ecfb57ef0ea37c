"""National-scale benchmarks of the engine, each figure beside the reference it must beat.

Run ``python -m bench [--scale N] [--runs R] [--quick] [--pg URL]``; see ``bench/RESULTS.md``
for the last full run. Generation is not measured; every measurement is.
"""
