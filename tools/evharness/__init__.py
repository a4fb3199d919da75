"""Running evcharge processes from Python: used by the demo, the tests and the benchmarks."""
