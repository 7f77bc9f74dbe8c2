"""safe-room planner: distributed safe rooms for a station, from floor plans to a construction proposal."""

__version__ = "0.1.0"
