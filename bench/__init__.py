"""Developer tools: the eval of the knowledge base and the benchmarks."""
