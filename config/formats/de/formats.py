# Named formats for event times in German: day with a full stop, 24-hour clock.
EVENT_DAY_FORMAT = "l, j. F Y"  # Samstag, 3. Juli 2027
EVENT_DAY_TIME_FORMAT = "l, j. F Y, H:i"  # Samstag, 3. Juli 2027, 19:30
EVENT_SHORT_FORMAT = "D., j. M Y, H:i"  # Sa., 3. Jul 2027, 19:30
EVENT_TIME_FORMAT = "H:i"
