"""Regenerates firehose_frames.bin: real subscribeRepos frames from the official PDS (tests.peer).

    ELONARA_PEER_STATE=<state> .venv/bin/python tests/bluesky/atproto/data/record_firehose_frames.py

Frames, in order: a post create, an RSVP create (bob, subject: an event of alice's), the same RSVP
updated to #notgoing, the RSVP deleted. Stored as 4-byte big-endian length + frame. The test
reads the subject URI from the frames themselves. The author's DID document (its signing key, for
verifying the commits) is stored beside them in firehose_dids.json, served by tests.network.frames.
"""

import json
import os
import struct
import threading
import time
from pathlib import Path

import httpx
from websockets.sync.client import connect

RSVP = "community.lexicon.calendar.rsvp"
NOW = "2026-11-26T10:00:00.000Z"


def main() -> None:
    peer = json.loads(Path(os.environ["ELONARA_PEER_STATE"]).read_text())
    frames: list[bytes] = []
    ready, done = threading.Event(), threading.Event()

    def read():
        with connect(peer["pds_url"].replace("http://", "ws://") + "/xrpc/com.atproto.sync.subscribeRepos") as ws:
            ready.set()
            while not (done.is_set() and len(frames) >= 4):
                try:
                    frames.append(ws.recv(timeout=0.5))
                except TimeoutError:
                    pass

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    ready.wait(10)
    time.sleep(0.3)
    with httpx.Client(base_url=peer["pds_url"], timeout=10) as client:
        bob = peer["accounts"]["bob"]
        token = client.post("/xrpc/com.atproto.server.createSession",
                            json={"identifier": bob["handle"], "password": bob["app_password"]}).json()["accessJwt"]
        client.headers["Authorization"] = f"Bearer {token}"
        repo = bob["did"]
        client.post("/xrpc/com.atproto.repo.createRecord", json={"repo": repo, "collection": "app.bsky.feed.post",
                    "record": {"$type": "app.bsky.feed.post", "text": "hello", "createdAt": NOW}}).raise_for_status()
        subject = {"uri": f"at://{peer['accounts']['alice']['did']}/community.lexicon.calendar.event/3m5abcdefgh22",
                   "cid": "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"}
        record = {"$type": RSVP, "subject": subject, "status": f"{RSVP}#going", "createdAt": NOW}
        created = client.post("/xrpc/com.atproto.repo.createRecord",
                              json={"repo": repo, "collection": RSVP, "record": record}).raise_for_status().json()
        rkey = created["uri"].rsplit("/", 1)[-1]
        client.post("/xrpc/com.atproto.repo.putRecord", json={"repo": repo, "collection": RSVP, "rkey": rkey,
                    "record": {**record, "status": f"{RSVP}#notgoing"}}).raise_for_status()
        client.post("/xrpc/com.atproto.repo.deleteRecord",
                    json={"repo": repo, "collection": RSVP, "rkey": rkey}).raise_for_status()
    done.set()
    thread.join(20)
    out = Path(__file__).with_name("firehose_frames.bin")
    with out.open("wb") as f:
        for frame in frames[:4]:
            f.write(struct.pack(">I", len(frame)) + frame)
    print(f"wrote {out} ({len(frames[:4])} frames)")
    document = httpx.get(f"{peer['plc_url']}/{repo}", timeout=10).raise_for_status().json()
    out.with_name("firehose_dids.json").write_text(json.dumps({repo: document}, indent=1) + "\n")


if __name__ == "__main__":
    main()
