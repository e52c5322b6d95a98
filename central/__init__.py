"""The central aggregator and operations dashboard."""
