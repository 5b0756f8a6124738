"""composite-booking: composite appointments (segments with pauses) booked atomically in Cal.com."""

__version__ = "0.1.0"
