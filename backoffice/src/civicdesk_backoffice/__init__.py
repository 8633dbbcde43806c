"""CivicDesk back office: tickets, the service catalogue and the Open311 GeoReport v2 API."""
