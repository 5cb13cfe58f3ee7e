"""Where master bytes come from: a typing.Protocol and its implementations."""
