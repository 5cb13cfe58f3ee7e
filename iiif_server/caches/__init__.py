"""Caches of image info and of rendered derivatives: typing.Protocols and implementations."""
