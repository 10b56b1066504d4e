"""Who an LMS identity is: the profiles' identities, or a stable derived id.

The identities no profile claims are listed (with how often they were seen) and kept
across restarts on the registry topic (`stream.ingest.memory`): every change to the list
is kept as a record, `u:<derived learner id>`, until it is written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import orjson
from pydantic import ValidationError

from schemas.roster import Identity, LearnerProfile
from stream.normalize.base import stable_learner_id

MAX_UNMAPPED = 10_000  # unmapped identities listed; beyond, the least seen are dropped
KEY_PREFIX = "u:"


def unmapped_key(identity: Identity) -> str:
    """The registry topic's key of an unmapped identity: its derived learner id."""
    return KEY_PREFIX + stable_learner_id(identity)


def unmapped_of(value: bytes) -> tuple[Identity, int] | None:
    """An unmapped identity and its count read from the registry topic (None if not one)."""
    try:
        data = orjson.loads(value)
        seen = data.pop("seen") if isinstance(data, dict) else None
        identity = Identity.model_validate(data)
    except (orjson.JSONDecodeError, ValidationError, KeyError):
        return None
    return (identity, seen) if isinstance(seen, int) and seen > 0 else None


class IdentityMap:
    """Identities claimed by profiles, and the ones nobody claims (counted, listable)."""

    def __init__(self) -> None:
        self._owners: dict[Identity, str] = {}
        self.unmapped: Counter[Identity] = Counter()
        self.on_unmapped: Callable[[Identity], None] = lambda identity: None
        self.changes: dict[str, bytes | None] = {}  # registry records not yet written

    def learn(self, profile: LearnerProfile) -> None:
        """Take a profile's identities as pointing to its learner id (an email identity
        claims the xAPI mbox of its address too): they are no longer unmapped."""
        for identity in profile.identities:
            self._owners[identity] = profile.learner_id
            for claimed in _claims(identity):
                if self.unmapped.pop(claimed, None) is not None:
                    self._changed(claimed)

    def aliases(self, learner_id: str) -> set[str]:
        """The derived ids a learner may have been known by before a profile claimed its
        identities (what ingest stored under them is theirs)."""
        owned = [i for i, owner in self._owners.items() if owner == learner_id]
        return {stable_learner_id(c) for identity in owned for c in _claims(identity)}

    def forget(self, learner_id: str) -> None:
        """Drop every identity of a learner (an erased profile), claimed or derived."""
        derived = {learner_id, *self.aliases(learner_id)}
        self._owners = {i: owner for i, owner in self._owners.items() if owner != learner_id}
        for identity in [i for i in self.unmapped if stable_learner_id(i) in derived]:
            del self.unmapped[identity]
            self._changed(identity)

    def _claimant(self, identity: Identity) -> str | None:
        """The learner whose profile claims an identity (an xAPI mbox through its email)."""
        owner = self._owners.get(identity)
        if owner is None and identity.source == "xapi" and identity.kind == "mbox":
            email = Identity(
                source="email", kind="email", value=identity.value.removeprefix("mailto:")
            )
            owner = self._owners.get(email)
        return owner

    def owner(self, identity: Identity) -> str:
        """The learner id of an identity, as `resolve` gives it, without counting it."""
        owner = self._claimant(identity)
        return owner if owner is not None else stable_learner_id(identity)

    def resolve(self, identity: Identity) -> str:
        """The learner id of an identity; unclaimed ones get a stable derived id."""
        learner = self.owner(identity)
        if learner != stable_learner_id(identity) or identity in self._owners:
            return learner
        self.unmapped[identity] += 1
        self._changed(identity)
        if len(self.unmapped) > MAX_UNMAPPED:  # keep the most seen
            for rare, _ in self.unmapped.most_common()[MAX_UNMAPPED // 2 :]:
                del self.unmapped[rare]
                self._changed(rare)
        self.on_unmapped(identity)
        return learner

    def restore(self, identity: Identity, seen: int) -> None:
        """An unmapped identity as remembered (read back from the registry topic): the
        larger of the two counts when it is known already (another replica counted it)."""
        if self._claimant(identity) is None:
            self.unmapped[identity] = max(self.unmapped[identity], seen)

    def drop(self, learner_id: str) -> None:
        """Forget the unmapped identity whose derived id is `learner_id` (a tombstone read
        back from the registry topic)."""
        for identity in [i for i in self.unmapped if stable_learner_id(i) == learner_id]:
            del self.unmapped[identity]

    def _changed(self, identity: Identity) -> None:
        seen = self.unmapped.get(identity)
        value = None if seen is None else orjson.dumps({**identity.model_dump(), "seen": seen})
        self.changes[unmapped_key(identity)] = value

    def __len__(self) -> int:
        return len(self._owners)


def _claims(identity: Identity) -> tuple[Identity, ...]:
    """The identities a profile's identity claims: itself, and for an email identity the
    xAPI mbox of its address (`IdentityMap.owner` resolves that mbox to its claimant)."""
    if identity.source == "email" and identity.kind == "email":
        return identity, Identity(source="xapi", kind="mbox", value=f"mailto:{identity.value}")
    return (identity,)
