"""Data domain: raw landing data, its validation gates and its profile."""
