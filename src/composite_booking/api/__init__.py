"""HTTP layer: thin routers that parse, authenticate the company, call one use case and render."""
