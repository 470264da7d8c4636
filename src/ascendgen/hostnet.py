"""This host's network interfaces and addresses, for checking a multi-node deployment's HCCL_IF_IP and
*_SOCKET_IFNAME before its containers start. Read from `ip -j addr show` (iproute2's JSON output), else
from the kernel's files: interface names from /sys/class/net, IPv6 addresses per interface from
/proc/net/if_inet6, and the host's IPv4 addresses (without their interface) from /proc/net/fib_trie."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

IpInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
SYS_CLASS_NET = Path("/sys/class/net")
PROC_NET = Path("/proc/net")
IP_TIMEOUT_S = 10


@dataclass(frozen=True)
class HostNetwork:
    """`interfaces`: every interface name. `addresses`: each interface's addresses with their prefix, where
    known; `local`: addresses (or, for loopback ranges, networks) of this host whose interface is unknown."""

    interfaces: frozenset[str]
    addresses: dict[str, tuple[IpInterface, ...]] = field(default_factory=dict)
    local: tuple[IpInterface, ...] = ()
    source: str = "ip -j addr show"

    @property
    def knows_addresses(self) -> bool:
        return bool(self.addresses or self.local)

    def interfaces_with(self, address: IpAddress) -> list[str]:
        """The interfaces that hold `address`. A loopback address counts as held by the interface whose
        loopback network contains it: Linux answers on all of 127.0.0.0/8 once lo has 127.0.0.1/8."""
        return sorted(name for name, held in self.addresses.items() if any(_holds(i, address) for i in held))

    def has_address(self, address: IpAddress) -> bool:
        return bool(self.interfaces_with(address)) or any(_holds(i, address) for i in self.local)


def _holds(interface: IpInterface, address: IpAddress) -> bool:
    if interface.version != address.version:
        return False
    if interface.ip == address:
        return True
    return address.is_loopback and interface.ip.is_loopback and address in interface.network


def read_host_network(
    run: Callable[..., subprocess.CompletedProcess[str]] = subprocess.run,
    sys_net: Path = SYS_CLASS_NET,
    proc_net: Path = PROC_NET,
) -> HostNetwork | None:
    """This host's interfaces and addresses; None when neither `ip` nor /sys can be read."""
    try:
        done = run(["ip", "-j", "addr", "show"], capture_output=True, text=True, timeout=IP_TIMEOUT_S, check=False)
        if done.returncode == 0:
            return parse_ip_json(done.stdout)
    except (OSError, subprocess.TimeoutExpired, ValueError):
        pass
    try:
        names = frozenset(entry.name for entry in sys_net.iterdir())
    except OSError:
        return None
    return HostNetwork(
        interfaces=names,
        addresses=_read_if_inet6(proc_net / "if_inet6"),
        local=_read_fib_trie(proc_net / "fib_trie"),
        source=f"{sys_net} and {proc_net}",
    )


def parse_ip_json(text: str) -> HostNetwork:
    """`ip -j addr show`: a list of {"ifname", "addr_info": [{"family", "local", "prefixlen"}, ...]}."""
    data: Any = json.loads(text)
    if not isinstance(data, list):
        raise ValueError("ip -j addr show: not a list")
    addresses: dict[str, tuple[IpInterface, ...]] = {}
    for link in data:
        if not isinstance(link, dict) or not isinstance(link.get("ifname"), str):
            continue
        held = []
        for info in link.get("addr_info") or []:
            try:
                held.append(ipaddress.ip_interface(f"{info['local']}/{info['prefixlen']}"))
            except (KeyError, TypeError, ValueError):
                continue
        addresses[link["ifname"]] = tuple(held)
    return HostNetwork(interfaces=frozenset(addresses), addresses=addresses)


def _read_if_inet6(path: Path) -> dict[str, tuple[IpInterface, ...]]:
    """/proc/net/if_inet6: `address(32 hex) ifindex prefixlen scope flags name` per line."""
    found: dict[str, list[IpInterface]] = {}
    try:
        lines = path.read_text(encoding="ascii", errors="replace").splitlines()
    except OSError:
        return {}
    for line in lines:
        parts = line.split()
        if len(parts) != 6 or len(parts[0]) != 32:
            continue
        try:
            address = ipaddress.IPv6Address(int(parts[0], 16))
            found.setdefault(parts[5], []).append(ipaddress.ip_interface(f"{address}/{int(parts[2], 16)}"))
        except ValueError:
            continue
    return {name: tuple(held) for name, held in found.items()}


def _read_fib_trie(path: Path) -> tuple[IpInterface, ...]:
    """The host's own IPv4 addresses from /proc/net/fib_trie: an address line `|-- 192.0.2.2` followed by
    `/32 host LOCAL` (a loopback range shows as `/8 host LOCAL`)."""
    try:
        lines = path.read_text(encoding="ascii", errors="replace").splitlines()
    except OSError:
        return ()
    found: list[IpInterface] = []
    last: str | None = None
    for line in lines:
        text = line.strip()
        if text.startswith("|-- "):
            last = text[4:].strip()
        elif last and text.startswith("/") and text.endswith("host LOCAL"):
            with contextlib.suppress(ValueError):
                found.append(ipaddress.ip_interface(f"{last}{text.split()[0]}"))
    return tuple(dict.fromkeys(found))
