from django.apps import AppConfig
from django.db.models.signals import post_save


class InvitationsConfig(AppConfig):
    name = "invitations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Accept invitations when the invitee RSVPs or joins (the foundation's signals, sent after
        # commit) and when they connect Bluesky after having RSVPed (post_save on their identity).
        from bluesky import pipeline
        from elonara.services import community_joined, rsvp_changed
        from invitations import services, signals

        # Invitations keep their due times on their own rows; the one dispatcher claims them too.
        pipeline.register_due_source("invitations", services.invitations_claim_due)

        rsvp_changed.connect(signals.on_rsvp_changed, dispatch_uid="invitations:rsvp_changed")
        community_joined.connect(signals.on_community_joined, dispatch_uid="invitations:community_joined")
        post_save.connect(signals.on_identity_saved, sender="bluesky.BlueskyIdentity",
                          dispatch_uid="invitations:identity")
