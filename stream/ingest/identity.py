"""Who an LMS identity is: the profiles' identities, or a stable derived id."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from schemas.roster import Identity, LearnerProfile
from stream.normalize.base import stable_learner_id

MAX_UNMAPPED = 10_000  # unmapped identities listed; beyond, the least seen are dropped


class IdentityMap:
    """Identities claimed by profiles, and the ones nobody claims (counted, listable)."""

    def __init__(self) -> None:
        self._owners: dict[Identity, str] = {}
        self.unmapped: Counter[Identity] = Counter()
        self.on_unmapped: Callable[[Identity], None] = lambda identity: None

    def learn(self, profile: LearnerProfile) -> None:
        """Take a profile's identities (its email too) as pointing to its learner id."""
        for identity in profile.identities:
            self._owners[identity] = profile.learner_id
            self.unmapped.pop(identity, None)

    def forget(self, learner_id: str) -> None:
        """Drop every identity of a learner (an erased profile), claimed or derived."""
        self._owners = {i: owner for i, owner in self._owners.items() if owner != learner_id}
        for identity in [i for i in self.unmapped if stable_learner_id(i) == learner_id]:
            del self.unmapped[identity]

    def resolve(self, identity: Identity) -> str:
        """The learner id of an identity; unclaimed ones get a stable derived id."""
        owner = self._owners.get(identity)
        if owner is not None:
            return owner
        if identity.source == "xapi" and identity.kind == "mbox":
            email = Identity(
                source="email", kind="email", value=identity.value.removeprefix("mailto:")
            )
            owner = self._owners.get(email)
            if owner is not None:
                return owner
        self.unmapped[identity] += 1
        if len(self.unmapped) > MAX_UNMAPPED:  # keep the most seen
            for rare, _ in self.unmapped.most_common()[MAX_UNMAPPED // 2 :]:
                del self.unmapped[rare]
        self.on_unmapped(identity)
        return stable_learner_id(identity)

    def __len__(self) -> int:
        return len(self._owners)
