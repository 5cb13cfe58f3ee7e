"""IIIF Authorization Flow 2.0: signed credentials, users, and the probe, access, token and logout services."""
