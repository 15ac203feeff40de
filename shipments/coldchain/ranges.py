"""Temperature classes as the cold chain uses them: the range the goods must stay in, and the defaults a shipment
takes until its sponsor records the figures of its own pack-out.

The ranges themselves are the regulatory vocabulary's (compliance.choices.TEMPERATURE_RANGES, which country
requirements are also written against); this module adds the pack-out defaults and is the one place the cold chain
reads either from."""

from dataclasses import dataclass

from compliance.choices import TEMPERATURE_RANGES, TemperatureClass


@dataclass(frozen=True)
class TemperatureRange:
    """Inclusive bounds in °C; None where the class has no bound on that side (deep frozen has no floor)."""

    low: float | None
    high: float | None

    def __str__(self) -> str:
        if self.low is None and self.high is None:
            return "any temperature"
        if self.low is None:
            return f"≤ {_celsius(self.high)} °C"
        if self.high is None:
            return f"≥ {_celsius(self.low)} °C"
        return f"{_celsius(self.low)} to {_celsius(self.high)} °C"


@dataclass(frozen=True)
class ClassDefaults:
    """What a pack-out of the class typically holds. A sponsor overrides both per shipment with the figures of the
    qualification report of the packaging actually used."""

    qualified_duration_hours: int
    excursion_budget_minutes: int


# Conservative figures for qualified passive shippers: 2–8 °C and frozen systems are commonly qualified for 96 to
# 120 hours, dry-ice (deep frozen) for about 96 hours before replenishment, LN2 dry shippers for 10 days. A budget
# is the time outside the range that stability data usually tolerate without an assessment; a cryogenic load
# tolerates none.
CLASS_DEFAULTS: dict[str, ClassDefaults] = {
    TemperatureClass.AMBIENT: ClassDefaults(qualified_duration_hours=120, excursion_budget_minutes=60),
    TemperatureClass.REFRIGERATED: ClassDefaults(qualified_duration_hours=96, excursion_budget_minutes=30),
    TemperatureClass.FROZEN: ClassDefaults(qualified_duration_hours=96, excursion_budget_minutes=30),
    TemperatureClass.DEEP_FROZEN: ClassDefaults(qualified_duration_hours=96, excursion_budget_minutes=15),
    TemperatureClass.CRYOGENIC: ClassDefaults(qualified_duration_hours=240, excursion_budget_minutes=0),
}


def temperature_range(temperature_class: str) -> TemperatureRange:
    low, high = TEMPERATURE_RANGES[temperature_class]
    return TemperatureRange(low=float(low) if low is not None else None, high=float(high) if high is not None else None)


def class_defaults(temperature_class: str) -> ClassDefaults:
    return CLASS_DEFAULTS[temperature_class]


def _celsius(value: float) -> str:
    return f"{value:g}".replace("-", "−")
