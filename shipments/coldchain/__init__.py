"""The cold chain of a shipment: temperature classes with their ranges and pack-out defaults (ranges), reading a
logger's export (parsing), what its readings say (analysis), and importing one against a shipment (services)."""
