"""evbench: load generator and benchmarks of the whole network (make bench)."""
