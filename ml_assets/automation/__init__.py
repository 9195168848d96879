"""Automation: sensors that start retraining (new data, severe drift), the monitoring schedule, failure alerts."""
