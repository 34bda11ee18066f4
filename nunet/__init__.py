"""nunet: a Device Management Service for a decentralized compute network."""

__version__ = "0.1.0"
