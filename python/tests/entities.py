"""Real Telethon TL entities for the tests: users, bots, basic groups, channels and
supergroups, each with a distinct id, username, phone and name (Telegram keeps usernames and
phones unique, and distinct names keep lookups by name unambiguous)."""

import datetime
import random

from telethon.tl import types

EPOCH = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)


class World:
    """A set of entities that change as a bot sees them change."""

    def __init__(self, rng, users=30, chats=8, channels=12):
        self.rng = rng
        bare = rng.sample(range(1, 2**31), users + chats + channels)
        self.entities = {}
        self._version = 0
        for i, id_ in enumerate(bare):
            kind = "user" if i < users else "chat" if i < users + chats else "channel"
            self.entities[id_] = {"kind": kind, "id": id_}
            self.change(id_)

    def change(self, id_):
        """A new access hash, username, phone and name for one entity (some left unset)."""
        self._version += 1
        e = self.entities[id_]
        rng = self.rng
        e["hash"] = rng.randrange(-(2**63), 2**63)
        v = self._version
        e["username"] = "n{}v{}".format(id_, v) if rng.random() < 0.8 else None
        e["phone"] = "7{}{}".format(id_, v) if e["kind"] == "user" and rng.random() < 0.6 else None
        # A user's display name is "first last", or either alone.
        e["first"], e["last"] = rng.choice([("Name", "{} {}".format(id_, v)),
                                            ("Name {} {}".format(id_, v), None),
                                            (None, "Name {} {}".format(id_, v))])
        e["name"] = " ".join(p for p in (e["first"], e["last"]) if p)
        e["bot"] = rng.random() < 0.2
        e["flavour"] = rng.choice(["broadcast", "megagroup", "gigagroup"])
        e["min"] = rng.random() < 0.1  # seen only as `min`: Telethon caches no hash from it

    def tl(self, id_):
        e = self.entities[id_]
        if e["kind"] == "user":
            return types.User(id=id_, access_hash=e["hash"], username=e["username"],
                              phone=e["phone"], first_name=e["first"], last_name=e["last"],
                              bot=e["bot"], min=e["min"])
        if e["kind"] == "chat":
            return types.Chat(id=id_, title=e["name"], photo=types.ChatPhotoEmpty(),
                              participants_count=3, date=EPOCH, version=1)
        flavour = e["flavour"]
        return types.Channel(id=id_, title=e["name"], photo=types.ChatPhotoEmpty(), date=EPOCH,
                             access_hash=e["hash"], username=e["username"], min=e["min"],
                             broadcast=flavour == "broadcast",
                             megagroup=flavour in ("megagroup", "gigagroup"),
                             gigagroup=flavour == "gigagroup")

    def resolved(self, ids):
        """A ``contacts.ResolvedPeer`` carrying the given entities, as Telethon receives them."""
        users = [self.tl(i) for i in ids if self.entities[i]["kind"] == "user"]
        chats = [self.tl(i) for i in ids if self.entities[i]["kind"] != "user"]
        return types.contacts.ResolvedPeer(peer=types.PeerUser(0), chats=chats, users=users)

    def ids(self, kind=None):
        return [i for i, e in self.entities.items() if kind is None or e["kind"] == kind]


def many_users(start, count, rng=None):
    """``count`` users with ids from ``start``, each with a username and a phone."""
    rng = rng or random.Random(start)
    return [types.User(id=start + i, access_hash=rng.randrange(1, 2**62),
                       username="user{}".format(start + i), phone="1555{:07d}".format(start + i),
                       first_name="User {}".format(start + i))
            for i in range(count)]
