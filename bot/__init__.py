"""fancare application wiring: config, store, pipeline, channels and the CLI."""

__version__ = "0.1.0"
