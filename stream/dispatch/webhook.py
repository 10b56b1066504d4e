"""The signed HTTP webhook channel, and the JSON POST every HTTP channel shares.

One attempt, one `Result`, never an exception for a delivery problem:

| answer                                        | outcome                              |
|-----------------------------------------------|--------------------------------------|
| 2xx                                           | DELIVERED                            |
| 410 Gone                                      | DISABLED (the channel stays off)     |
| 429, 503                                      | RETRY, `retry_after_s` from Retry-After |
| other 5xx, timeout, reset, refused connection | RETRY                                |
| 3xx (redirects are not followed)              | FAILED                               |
| other 4xx, anything else                      | FAILED                               |

Neither the URL (chat webhook URLs are credentials) nor the response body (it may echo the
payload) goes into a `Result` detail or a log line.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable, Mapping, Sequence
from email.utils import parsedate_to_datetime
from http import HTTPStatus

import aiohttp
import orjson
from yarl import URL

from stream.dispatch.base import Message, Outcome, Result, check_timeout, log_attempt
from stream.dispatch.signing import WebhookSigner

USER_AGENT = "tierwatch-dispatch/1"
DEFAULT_TIMEOUT_S = 10.0
SessionFactory = Callable[[], aiohttp.ClientSession]


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After value (delay-seconds or an HTTP date), else None.

    A date in the past means "now" (0); an unreadable value means the receiver said nothing.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" parses naive; HTTP dates are always GMT
        return None
    return max(0.0, when.timestamp() - now)


def _reason(status: int) -> str:
    """`404 Not Found`, or just the number for a status without a standard phrase."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def result_for_status(status: int, headers: Mapping[str, str], now: float) -> Result:
    """The outcome of one HTTP answer (see the module's table)."""
    if 200 <= status < 300:
        return Result(Outcome.DELIVERED, f"HTTP {_reason(status)}", status=status)
    if status == 410:
        return Result(Outcome.DISABLED, "HTTP 410 Gone: endpoint disabled", status=status)
    if status in (429, 503):
        wait = parse_retry_after(headers.get("Retry-After"), now)
        return Result(Outcome.RETRY, f"HTTP {_reason(status)}", retry_after_s=wait, status=status)
    if 500 <= status < 600:
        return Result(Outcome.RETRY, f"HTTP {_reason(status)}", status=status)
    if 300 <= status < 400:
        detail = f"HTTP {_reason(status)}: redirect not followed; configure the final URL"
        return Result(Outcome.FAILED, detail, status=status)
    return Result(Outcome.FAILED, f"HTTP {_reason(status)}", status=status)


async def post_json(
    session: aiohttp.ClientSession,
    url: str | URL,
    body: bytes,
    headers: Mapping[str, str],
    timeout_s: float,
) -> Result:
    """POST a JSON `body` once, without following redirects, and classify what happened."""
    request_headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers}
    try:
        async with session.post(
            url,
            data=body,
            headers=request_headers,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=timeout_s),
        ) as response:
            return result_for_status(response.status, response.headers, time.time())
    except TimeoutError:
        return Result(Outcome.RETRY, f"no answer within {timeout_s} s")
    except aiohttp.ClientConnectionError as error:
        return Result(Outcome.RETRY, f"connection failed: {type(error).__name__}")
    except aiohttp.ClientError as error:  # a malformed answer: the receiver may recover
        return Result(Outcome.RETRY, f"bad HTTP answer: {type(error).__name__}")


def _http_url(url: str) -> URL:
    """`url` parsed, if it is an absolute http(s) URL; else a ValueError (without the URL)."""
    parsed = URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError("a webhook URL must be an absolute http:// or https:// URL")
    return parsed


class HttpChannel(abc.ABC):
    """A channel that POSTs one JSON document per message to one configured URL.

    Subclasses say what to send (`encode`); this class sends it, maps the answer to a
    `Result`, and after a 410 stays disabled: later `deliver` calls answer DISABLED at once,
    without a request, until a new channel object is configured. The aiohttp session comes
    from `session_factory`, is created on first use and is closed by `close()`.
    """

    def __init__(
        self,
        name: str,
        url: str,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        session_factory: SessionFactory = aiohttp.ClientSession,
    ) -> None:
        check_timeout(name, timeout_s)
        self.name = name
        self._url = _http_url(url)
        self._timeout_s = timeout_s
        self._session_factory = session_factory
        self._session: aiohttp.ClientSession | None = None
        self._disabled = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, host={self._url.host!r})"

    @property
    def disabled(self) -> bool:
        """Whether the endpoint answered 410 Gone and this channel has stopped using it."""
        return self._disabled

    @abc.abstractmethod
    def encode(self, message: Message) -> tuple[bytes, dict[str, str]]:
        """The JSON body to POST for `message` and any extra headers."""

    async def deliver(self, message: Message) -> Result:
        """Try to deliver `message` once; never raise for a delivery problem."""
        if self._disabled:
            result = Result(Outcome.DISABLED, "endpoint disabled after 410 Gone; reconfigure it")
        else:
            result = await self._attempt(message)
            if result.outcome is Outcome.DISABLED:
                self._disabled = True
        log_attempt(self.name, message, result)
        return result

    async def _attempt(self, message: Message) -> Result:
        """Encode and POST once."""
        try:
            body, headers = self.encode(message)
        except (TypeError, ValueError) as error:  # orjson.JSONEncodeError is a TypeError
            return Result(Outcome.FAILED, f"message cannot be encoded: {type(error).__name__}")
        if self._session is None or self._session.closed:
            self._session = self._session_factory()
        return await post_json(self._session, self._url, body, headers, self._timeout_s)

    async def close(self) -> None:
        """Close the aiohttp session, if one was opened."""
        if self._session is not None:
            await self._session.close()
            self._session = None


class WebhookChannel(HttpChannel):
    """A downstream notification service: `message.payload` as JSON, Standard Webhooks signed.

    `secrets` are the active `whsec_` secrets (several during a rotation: each request is
    signed with all of them); they are checked here, so a bad one fails at configuration.
    `webhook-id` is `message.id`, so a receiver de-duplicates retries on it. The URL is the
    configured one; `message.recipient` is not used.
    """

    def __init__(
        self,
        name: str,
        url: str,
        secrets: Sequence[str],
        timeout_s: float = DEFAULT_TIMEOUT_S,
        session_factory: SessionFactory = aiohttp.ClientSession,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(name, url, timeout_s=timeout_s, session_factory=session_factory)
        self._signer = WebhookSigner(secrets, clock=clock)

    def encode(self, message: Message) -> tuple[bytes, dict[str, str]]:
        """The payload as JSON and the three signature headers, signed now."""
        body = orjson.dumps(message.payload)
        return body, self._signer.sign(message.id, body)
