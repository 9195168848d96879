"""Model serving: the scorer (input checks, fast predict), the ASGI model server and the local gateway."""
