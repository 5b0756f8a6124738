"""Cal.com v2: async client, event-type manager, and the bundled sandbox that emulates Cal.com."""
