# Named formats for event times in Brazilian Portuguese: "3 de julho de 2027", 24-hour clock.
EVENT_DAY_FORMAT = r"l, j \d\e F \d\e Y"  # sábado, 3 de julho de 2027
EVENT_DAY_TIME_FORMAT = r"l, j \d\e F \d\e Y, H:i"  # sábado, 3 de julho de 2027, 19:30
EVENT_SHORT_FORMAT = "D, j M Y, H:i"
EVENT_TIME_FORMAT = "H:i"
