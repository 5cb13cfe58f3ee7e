"""Access decisions for image requests: a typing.Protocol and its implementations."""
