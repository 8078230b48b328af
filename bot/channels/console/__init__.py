"""The web console: staff sign in, see their board and act on requests."""
