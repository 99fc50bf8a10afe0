"""The limit on answers "no such slug", which slows down slug enumeration."""

import time
from collections import OrderedDict


class UnknownSlugLimiter:
    """Token buckets per client address for answers "no such slug": slows slug enumeration.

    Only unknown slugs spend tokens, so redirects to existing links are never throttled (a
    load balancer's address may carry thousands of real visitors). In memory and bounded: the
    least recently seen addresses are forgotten first.
    """

    def __init__(
        self, burst: int = 60, per_second: float = 1.0, max_clients: int = 10_000
    ) -> None:
        self.burst = burst
        self.per_second = per_second
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, when

    @property
    def clients(self) -> int:
        """How many client addresses it keeps a bucket for (at most ``max_clients``)."""
        return len(self._buckets)

    def take(self, client: str) -> float:
        """Spend a token: 0 when there was one, else the seconds until there is one."""
        now = time.monotonic()
        tokens, since = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - since) * self.per_second)
        wait = 0.0 if tokens >= 1 else (1 - tokens) / self.per_second
        self._buckets[client] = (tokens - 1 if tokens >= 1 else tokens, now)
        if len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait
