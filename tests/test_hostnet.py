"""This host's interfaces and addresses (ascendgen.hostnet), from `ip -j addr show` or, without iproute2,
from /sys/class/net and /proc/net: the texts below are what a Linux host (iproute2 6.x, kernel 6.x) prints."""

from __future__ import annotations

import ipaddress
import subprocess
from pathlib import Path
from typing import Any

from ascendgen.hostnet import HostNetwork, parse_ip_json, read_host_network

IP_JSON = (
    '[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"operstate":"UNKNOWN",'
    '"addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host","label":"lo"},'
    '{"family":"inet6","local":"::1","prefixlen":128,"scope":"host"}]},'
    '{"ifindex":4,"ifname":"enp1s0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1400,"operstate":"UP",'
    '"addr_info":[{"family":"inet","local":"192.168.0.147","prefixlen":24,"broadcast":"192.168.0.255",'
    '"scope":"global","label":"enp1s0"},{"family":"inet6","local":"fd00::147","prefixlen":64,"scope":"global"},'
    '{"family":"inet6","local":"fe80::fc:ff:fe00:1","prefixlen":64,"scope":"link"}]},'
    '{"ifindex":5,"ifname":"docker0","flags":["NO-CARRIER","BROADCAST","MULTICAST","UP"],"addr_info":[]}]'
)

IF_INET6 = """\
fd000000000000000000000000000147 04 40 00 82   enp1s0
00000000000000000000000000000001 01 80 10 80       lo
fe8000000000000000fc00fffe000001 04 40 20 80   enp1s0
"""

FIB_TRIE = """\
Main:
  +-- 0.0.0.0/0 3 0 4
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
     +-- 192.168.0.0/24 2 0 2
        +-- 192.168.0.0/30 2 0 2
           |-- 192.168.0.0
              /24 link UNICAST
           |-- 192.168.0.147
              /32 host LOCAL
        |-- 192.168.0.255
           /32 link BROADCAST
"""


def ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


def test_ip_json_gives_each_interface_its_addresses() -> None:
    network = parse_ip_json(IP_JSON)
    assert network.interfaces == {"lo", "enp1s0", "docker0"}
    assert network.interfaces_with(ip("192.168.0.147")) == ["enp1s0"]
    assert network.interfaces_with(ip("fd00::147")) == ["enp1s0"]
    assert network.interfaces_with(ip("192.168.0.35")) == []  # the other node's address, in the same subnet
    assert not network.has_address(ip("192.168.0.35"))


def test_loopback_addresses_belong_to_lo() -> None:
    # Linux answers on all of 127.0.0.0/8 once lo has 127.0.0.1/8: the test setups' second "node" 127.0.0.2
    network = parse_ip_json(IP_JSON)
    assert network.interfaces_with(ip("127.0.0.2")) == ["lo"]
    assert network.interfaces_with(ip("::2")) == []  # ::1/128 holds only itself


def test_without_iproute2_the_kernel_files_are_read(tmp_path: Path) -> None:
    sys_net = tmp_path / "sys" / "class" / "net"
    for name in ("lo", "enp1s0"):
        (sys_net / name).mkdir(parents=True)
    proc_net = tmp_path / "proc" / "net"
    proc_net.mkdir(parents=True)
    (proc_net / "if_inet6").write_text(IF_INET6)
    (proc_net / "fib_trie").write_text(FIB_TRIE)

    def no_ip(*args: Any, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        raise FileNotFoundError("ip")

    network = read_host_network(run=no_ip, sys_net=sys_net, proc_net=proc_net)
    assert network is not None and network.interfaces == {"lo", "enp1s0"}
    assert network.interfaces_with(ip("fd00::147")) == ["enp1s0"]  # IPv6: per interface
    assert network.interfaces_with(ip("192.168.0.147")) == []  # IPv4: the host's, interface unknown
    assert network.has_address(ip("192.168.0.147")) and network.has_address(ip("127.0.0.2"))
    assert not network.has_address(ip("192.168.0.35")) and not network.has_address(ip("192.168.0.255"))


def test_ip_is_preferred_when_it_answers(tmp_path: Path) -> None:
    def fake_ip(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        assert args == ["ip", "-j", "addr", "show"]
        return subprocess.CompletedProcess(args, 0, IP_JSON, "")

    network = read_host_network(run=fake_ip, sys_net=tmp_path / "absent", proc_net=tmp_path / "absent")
    assert network is not None and network.interfaces_with(ip("192.168.0.147")) == ["enp1s0"]


def test_nothing_readable_gives_none(tmp_path: Path) -> None:
    def failing_ip(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(args, 1, "", "Cannot open netlink socket")

    assert read_host_network(run=failing_ip, sys_net=tmp_path / "absent", proc_net=tmp_path / "absent") is None


def test_an_unknown_address_set_knows_nothing() -> None:
    assert not HostNetwork(interfaces=frozenset({"lo"})).knows_addresses
