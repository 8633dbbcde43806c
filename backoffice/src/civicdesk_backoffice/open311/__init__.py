"""The Open311 GeoReport v2 HTTP API under ``/open311/v2/``."""
