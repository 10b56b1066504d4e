"""Canvas Live Events sent as signed JWTs: verify against a configured JWKS.

Canvas can sign each Live Event: the request body is then a compact JWT whose claims hold
the event (`{metadata, body}`). With `TIERWATCH_CANVAS_JWKS` set, such bodies are accepted
when their signature verifies with one of the JWKS keys (chosen by `kid`); the signature is
the authentication, so no shared secret header is needed for them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jwt
import orjson
from jwt.types import Options

from stream.http.problems import Refusal

ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]


class JwksVerifier:
    """The keys of a JWKS file, and the verification of a compact JWT against them."""

    def __init__(self, path: Path, audience: str | None = None) -> None:
        self.audience = audience
        document = orjson.loads(path.read_bytes())
        self._keys = {key.key_id: key for key in jwt.PyJWKSet.from_dict(document).keys}

    def claims(self, token: bytes) -> Any:
        """The verified claims of a token; 401 problem details when it does not verify."""
        try:
            header = jwt.get_unverified_header(token)
            key = self._keys.get(header.get("kid")) or (
                next(iter(self._keys.values())) if len(self._keys) == 1 else None
            )
            if key is None:
                raise Refusal(401, "unauthorized", "the JWT's key id is not in the JWKS")
            options: Options = {"verify_aud": self.audience is not None}
            return jwt.decode(
                token, key.key, algorithms=ALGORITHMS, audience=self.audience, options=options
            )
        except jwt.PyJWTError as exc:
            raise Refusal(401, "unauthorized", f"the JWT does not verify: {exc}") from None
