"""dylive: Douyin live room data as a service."""

__version__ = "0.1.0"
