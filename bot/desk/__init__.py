"""The service desk: the only writer of requests, their events and the messages they cause."""
