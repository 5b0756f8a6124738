"""Pydantic request and response models shared by the HTTP layer and the use cases."""
