# Named formats for event times in Japanese: the year-month-day order with the weekday in
# brackets, as printed on Japanese posters and tickets.
EVENT_DAY_FORMAT = "Y年n月j日(D)"  # 2027年7月3日(土)
EVENT_DAY_TIME_FORMAT = "Y年n月j日(D) H:i"  # 2027年7月3日(土) 19:30
EVENT_SHORT_FORMAT = "Y年n月j日(D) H:i"
EVENT_TIME_FORMAT = "H:i"
