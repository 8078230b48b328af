"""Domain rules with no I/O: the request lifecycle, categories, working days and the roster."""
