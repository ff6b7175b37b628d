"""Where the application may send requests of its own (webhook deliveries): public addresses
only, unless a network is allowed by name (`HOMEWARD_WEBHOOK_ALLOWED_NETWORKS`). Without this,
a subscriber could aim deliveries at the loopback interface, the cloud metadata service or the
office network, and read from the delivery log what answered there."""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

Network = IPv4Network | IPv6Network

NOT_PUBLIC = "the target is not a public address"


def parse_networks(values: Sequence[str]) -> list[Network]:
    return [ip_network(v.strip(), strict=False) for v in values]


def _address(text: str) -> IPv4Address | IPv6Address:
    found = ip_address(text.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0) names no address
    if isinstance(found, IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped
    return found


def address_allowed(address: str, allowed: Sequence[Network]) -> bool:
    ip = _address(address)
    return ip.is_global or any(ip in network for network in allowed)


def host_refused(host: str, allowed: Sequence[Network]) -> bool:
    """Whether a URL's host is refused before any lookup: a literal address that is not
    allowed, or a name of the loopback interface. Names are checked again, resolved, at
    every delivery."""
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return not address_allowed("127.0.0.1", allowed)
    try:
        return not address_allowed(name, allowed)
    except ValueError:
        return False  # a name, not an address
