"""Dockyard's benchmarks (issue 8): `make bench` or `.venv/bin/python -m bench [p1 ... p5]`; see README.md."""
