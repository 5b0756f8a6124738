"""Composite availability as a service: free time from Cal.com (one request per staff member per window,
cached), our own holds from PostgreSQL, and the pure search in `domain.availability`."""
