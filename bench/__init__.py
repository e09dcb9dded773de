"""carboy's benchmark suite: TechEmpower-style tests against peer frameworks.

Run it with ``python -m bench.run`` (see ``bench/README.md``).
"""
