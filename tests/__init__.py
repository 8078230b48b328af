"""The tests: ``tests.support`` holds what they share with each other and with the benchmarks."""
