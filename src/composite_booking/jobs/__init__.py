"""Background work: the outbox worker and the periodic jobs it drives (safe with any number of replicas)."""
