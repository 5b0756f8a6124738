"""Domain: pure rules (segments, timelines, availability) and use cases; no FastAPI, no SQL sessions."""
