"""HTTP layer: thin blueprints over the pipeline, and the response conventions they share."""
