"""Targeting rules: where a visit to a link with rules goes.

A cached rule is a tuple ``(country, device, os, location)``, each condition None when the rule
does not ask for it, ``os`` in lower case. The first rule whose given conditions all match the
visit wins; no match, the link's own location. The user agent is parsed and the address looked
up only when a rule asks (both cached per distinct value by their modules).
"""

from ..analytics.agents import MAX_USER_AGENT, Agent, classify
from ..analytics.geo import country_of

Rule = tuple[str | None, str | None, str | None, str]

_UNKNOWN = object()


def cached_rules(rules: list[dict[str, str]]) -> tuple[Rule, ...]:
    """The stored rules (``[{country?, device?, os?, url}]``) as the cache keeps them; ``url``
    must already be a header-safe location."""
    return tuple(
        (
            rule.get("country"),
            rule.get("device"),
            rule["os"].lower() if rule.get("os") else None,
            rule["url"],
        )
        for rule in rules
    )


def destination(rules: tuple[Rule, ...], default: str, user_agent: str, client_ip: str) -> str:
    country: object = _UNKNOWN
    agent: Agent | None = None
    for wanted_country, device, os, location in rules:
        if wanted_country is not None:
            if country is _UNKNOWN:
                country = country_of(client_ip)
            if country != wanted_country:
                continue
        if device is not None or os is not None:
            if agent is None:
                agent = classify(user_agent[:MAX_USER_AGENT])
            if device is not None and agent.device != device:
                continue
            if os is not None and agent.os.lower() != os:
                continue
        return location
    return default
