"""Domain rules: the request lifecycle, categories, working days and the roster.

No I/O, except reading the two files admins edit (the roster, :mod:`.roster.load`, and the
working-day overrides, :mod:`.workday_overrides`) through :mod:`knowledge.yaml_lines`.
"""
