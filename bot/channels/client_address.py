"""Who a web request comes from, for rate limits: the peer, or what our own proxies say.

``X-Forwarded-For`` is a list anyone can start; each proxy appends the address it got the
request from. Only the entries our own proxies appended can be believed, so the list is read from
the right, past the trusted proxies, and the first address that is not one of them is the client.
A request straight from an untrusted peer is that peer, whatever its headers claim.

An IPv6 client is its /64: a household or an office gets at least that much from its provider,
and one person can pick a fresh address in it for every request.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

__all__ = ["client_address"]

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address


def client_address(
    peer: str | None, forwarded_for: Iterable[str], trusted: Sequence[Network]
) -> str:
    """The client's address as a rate-limit key: ``192.0.2.7`` or ``2001:db8:1:2::/64``.

    Args:
        peer: The address the connection comes from (``None`` for a Unix socket).
        forwarded_for: Every ``X-Forwarded-For`` header of the request, in order.
        trusted: The operator's own proxies (``BOT_TRUSTED_PROXIES``).
    """
    nearest = _parse(peer)
    if nearest is None:
        return "unknown"
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",")]
    while _trusted(nearest, trusted) and hops:
        farther = _parse(hops.pop())
        if farther is None:
            break  # not written by a proxy of ours: trust ends at the one that passed it on
        nearest = farther
    return _key(nearest)


def _parse(text: str | None) -> Address | None:
    if not text:
        return None
    try:
        address = ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, trusted: Sequence[Network]) -> bool:
    return any(address.version == network.version and address in network for network in trusted)


def _key(address: Address) -> str:
    if isinstance(address, IPv6Address):
        return str(IPv6Network((address, 64), strict=False))
    return str(address)
