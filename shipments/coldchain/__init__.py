"""The cold chain of a shipment: temperature classes with their ranges and pack-out defaults (ranges), reading a
logger's export (parsing), what its readings say (analysis), importing one against a shipment and the quarantine and
sponsor QA disposition that follow an excursion (services, notifications), and the pack-out clock that alerts during
a customs hold (selectors, packout)."""
