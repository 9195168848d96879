"""Deployment domain: staging (with smoke, integration and load checks) and the production release."""
