"""Every NSID Elonara reads or writes, in one list (records, embeds, facets, XRPC methods we name
in more than one place). Django-free, like the rest of the protocol package."""

from __future__ import annotations

POST_NSID = "app.bsky.feed.post"
EMBED_EXTERNAL = "app.bsky.embed.external"
FACET_MENTION = "app.bsky.richtext.facet#mention"
FACET_LINK = "app.bsky.richtext.facet#link"
FACET_TAG = "app.bsky.richtext.facet#tag"

# The calendar lexicons (lexicon.community): events, answers, places.
EVENT_NSID = "community.lexicon.calendar.event"
RSVP_NSID = "community.lexicon.calendar.rsvp"
ADDRESS_NSID = "community.lexicon.location.address"
CALENDAR_COLLECTIONS = (EVENT_NSID, RSVP_NSID)

GRAPH_GET_FOLLOWERS = "app.bsky.graph.getFollowers"
GRAPH_GET_FOLLOWS = "app.bsky.graph.getFollows"
