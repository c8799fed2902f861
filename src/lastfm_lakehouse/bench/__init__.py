"""Benchmarks (``make bench``, ``make bench-serve``): the full-size build, its report, the ALS
head-to-head, levers and training inputs, the serving bench and memory sampling.
"""
