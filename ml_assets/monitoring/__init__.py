"""Monitoring: the metrics the platform publishes, the alarms on them, and the dashboard that shows them."""
