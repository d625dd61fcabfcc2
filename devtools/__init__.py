"""Developer and test harnesses, outside the product: local services, the PGlite engine, a test RTSP server.

Not installed by ``pip install .``; the Makefile, the tests, the benchmarks and the demo's cameras use them from a
source checkout.
"""
