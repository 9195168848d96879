"""Training, evaluation, the model test suite and candidate selection (pure logic, no Dagster, no I/O)."""
