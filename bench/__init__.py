"""Benchmarks (`make bench`): `bench.run` is the suite, `bench.spopt_compare` the side-by-side with spopt."""
