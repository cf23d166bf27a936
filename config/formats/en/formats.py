# Named formats for event times (config/formats/__init__.py says how they are used); Django's own
# formats for English come after this module.
EVENT_DAY_FORMAT = "l j F Y"  # Saturday 3 July 2027
EVENT_DAY_TIME_FORMAT = "l j F Y, H:i"  # Saturday 3 July 2027, 19:30
EVENT_SHORT_FORMAT = "D j M Y, H:i"  # Sat 3 Jul 2027, 19:30
EVENT_TIME_FORMAT = "H:i"
