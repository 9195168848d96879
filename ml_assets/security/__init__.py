"""Security gate before staging: static analysis of the package and an audit of the pinned dependencies."""
