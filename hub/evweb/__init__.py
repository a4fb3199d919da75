"""Central's web faces: the operator's console at /, the driver's page at /driver and
the REST API under /api/v1, served by Central itself (--http HOST:PORT) on its own
event loop with aiohttp (docs/WEB.md)."""
