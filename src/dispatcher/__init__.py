"""dispatcher: the weekly driver-roster workflow for parcel-delivery dispatchers."""

__version__ = "0.1.0"
