"""DHCP servers and clients by broadcast domain: a pool smaller than its clients, a
segment whose DISCOVERs no server and no relay hears (semantics D1, D7-D12; RFC 2131
section 4.1, RFC 1542; seeds 001, 004).

Broadcast domains come from ``context.l2_domains`` (a router joins nothing: a
limited broadcast stops at it, D1). A relay's clients count against the pool of the
server it relays to. When no server is described anywhere (a host capture), nothing is
reported: the server is outside what the doctor was shown.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from vnetlab.doctor.checks.common import traffic_probe
from vnetlab.doctor.context import l2_domains
from vnetlab.doctor.model import Check, Evidence, Finding, Fix, register, text
from vnetlab.net.addr import ip4_str, netmask

if TYPE_CHECKING:
    from vnetlab.doctor.context import Context

Doc = dict[str, Any]
Path = tuple[Any, ...]


class _Dhcp:
    """Servers, relays and clients of a topology, each with its endpoint and path."""

    def __init__(self, ctx: Context) -> None:
        self.domains = l2_domains(ctx)
        # (node:iface, path, server spec, the interface's addresses)
        self.servers: list[tuple[str, Path, Any, list[tuple[int, int]]]] = []
        self.relays: list[tuple[str, Path, int]] = []          # (node:iface, path, server IP)
        self.clients: list[tuple[str, Path, str]] = []         # (node:iface, path, vm or host)
        self.router_ifaces: list[tuple[str, Path, list[tuple[int, int]]]] = []
        spec = ctx.spec
        for host, hspec in spec.hosts.items():
            for i, iface in enumerate(hspec.interfaces):
                path = ("hosts", host, "interfaces", i)
                addrs = [(a.ip, a.prefix_length) for a in iface.ipv4.address] \
                    if iface.ipv4 is not None else []
                if iface.dhcp_server is not None:
                    self.servers.append((f"{host}:{iface.name}", (*path, "dhcp-server"),
                                         iface.dhcp_server, addrs))
                if iface.ipv4 is not None and iface.ipv4.enabled and iface.ipv4.dhcp:
                    self.clients.append((f"{host}:{iface.name}", (*path, "ipv4", "dhcp"), host))
        for vm, vspec in spec.vms.items():
            for i, nic in enumerate(vspec.interfaces):
                path = ("vms", vm, "interfaces", i)
                if nic.dhcp_server is not None:
                    addrs = []
                    if nic.ipv4 is not None and nic.ipv4.address:
                        from vnetlab.net.addr import parse_ip4_prefix

                        addrs = [parse_ip4_prefix(nic.ipv4.address)]
                    self.servers.append((f"{vm}:eth{i}", (*path, "dhcp-server"), nic.dhcp_server,
                                         addrs))
                if nic.ipv4 is not None and nic.ipv4.dhcp:
                    self.clients.append((f"{vm}:eth{i}", (*path, "ipv4", "dhcp"), vm))
        for router, rspec in spec.routers.items():
            for i, riface in enumerate(rspec.interfaces):
                path = ("routers", router, "interfaces", i)
                addrs = [(a.ip, a.prefix_length) for a in riface.ipv4.address] \
                    if riface.ipv4 is not None else []
                self.router_ifaces.append((f"{router}:{riface.name}", path, addrs))
                if riface.dhcp_server is not None:
                    self.servers.append((f"{router}:{riface.name}", (*path, "dhcp-server"),
                                         riface.dhcp_server, addrs))
                if riface.dhcp_relay is not None:
                    self.relays.append((f"{router}:{riface.name}", (*path, "dhcp-relay"),
                                        riface.dhcp_relay.server))

    def domain(self, endpoint: str) -> int:
        return self.domains.get(endpoint, -1)

    def host_of(self, ctx: Context, who: str) -> str:
        return ctx.spec.vms[who].host if who in ctx.spec.vms else who


@register
class PoolTooSmall(Check):
    id = "dhcp.pool-too-small"
    severity = "error"
    title = "a DHCP pool with fewer addresses than the clients that reach it"
    title_zh = "DHCP 地址池的地址少于能到达它的客户端"
    rules = ("D1", "D12")
    references = ("dnsmasq(8): --dhcp-range", "https://www.rfc-editor.org/rfc/rfc2131",
                  "seeds/001 (pool-range)")
    texts: ClassVar[dict[str, tuple[str, str]]] = {"doctor.dhcp.pool": (
        "{server}'s pool {pool} holds {size} address(es) and {count} DHCP clients reach it "
        "({clients}): once it is used up dnsmasq stays silent to the next DISCOVER ("
        "\"no address available\"), so at least {missing} of them get no address and give up.",
        "{server} 的地址池 {pool} 只有 {size} 个地址，而能到达它的 DHCP 客户端有 {count} 个"
        "（{clients}）：地址用完后 dnsmasq 对后来的 DISCOVER 不再应答（\"no address available\"），"
        "至少 {missing} 个客户端拿不到地址并放弃。")}

    def run(self, ctx: Context) -> list[Finding]:
        world = _Dhcp(ctx)
        out = []
        for endpoint, path, server, addrs in world.servers:
            domain = world.domain(endpoint)
            relayed = {world.domain(relay) for relay, _, ip in world.relays
                       if any(ip == a for a, _ in addrs)}
            clients = [(c, p, who) for c, p, who in world.clients
                       if c != endpoint and (world.domain(c) == domain
                                             or world.domain(c) in relayed)]
            start, end = server.pool
            size = end - start + 1
            if len(clients) <= size:
                continue
            names = [who if who in ctx.spec.vms else c for c, _, who in clients]
            evidence = [ctx.config((*path, "pool")),
                        *[ctx.config(p) for _, p, _ in clients[:8]]]
            prefix = addrs[0][1] if addrs else 24
            new_end = self._new_end(start, len(clients), prefix)
            host = world.host_of(ctx, clients[0][2])
            fixes = [Fix(text("doctor.where.dnsmasq", server=endpoint),
                         (f"dhcp-range={ip4_str(start)},{ip4_str(new_end)}",))]
            vms = [who for _, _, who in clients if who in ctx.spec.vms]
            out.append(self.finding(
                ctx, host, endpoint, evidence,
                text("doctor.dhcp.pool", server=endpoint,
                     pool=f"{ip4_str(start)}-{ip4_str(end)}", size=size,
                     count=len(clients),
                     clients=", ".join(names[:8]) + (", ..." if len(names) > 8 else ""),
                     missing=len(clients) - size),
                fixes, affected=vms, probe=traffic_probe(ctx, vms),
                fixer=partial(_set_pool, path=path, start=ip4_str(start), end=ip4_str(new_end))))
        return out

    @staticmethod
    def _new_end(start: int, clients: int, prefix: int) -> int:
        """Room for every client and half as many again, inside the subnet."""
        mask = netmask(prefix)
        last = (start & mask) | (~mask & 0xFFFF_FFFF) - 1
        return min(start + clients + max(clients // 2, 8), last)


def _set_pool(doc: Doc, path: Path, start: str, end: str) -> Doc:
    node: Any = doc
    for element in path:
        node = node[element]
    node["pool"] = f"{start}-{end}"
    return doc


@register
class NoRelay(Check):
    id = "dhcp.no-relay"
    severity = "error"
    title = "DHCP clients on a segment no DHCP server or relay hears"
    title_zh = "DHCP 客户端所在网段没有 DHCP 服务器，也没有中继"
    rules = ("D1", "D11")
    references = ("https://www.rfc-editor.org/rfc/rfc1542", "dhcrelay(8)",
                  "Cisco: ip helper-address", "seeds/001 (DHCP relay)")
    texts: ClassVar[dict[str, tuple[str, str]]] = {"doctor.dhcp.no_relay": (
        "{clients} broadcast their DHCPDISCOVERs on a segment where no DHCP server listens; "
        "the server is {server}, on another subnet, and {router} (the router on the clients' "
        "segment) relays nothing. A limited broadcast (255.255.255.255) stops at a router "
        "(D1), so no DISCOVER reaches the server and the clients give up.",
        "{clients} 在一个没有 DHCP 服务器监听的网段上广播 DHCPDISCOVER；服务器是另一子网上的 "
        "{server}，而客户端网段上的路由器 {router} 不做任何中继。受限广播（255.255.255.255）"
        "止于路由器（D1），因此没有一个 DISCOVER 到达服务器，客户端最终放弃。")}

    def run(self, ctx: Context) -> list[Finding]:
        world = _Dhcp(ctx)
        if not world.servers or not world.clients:
            return []
        served = {world.domain(s) for s, _, _, _ in world.servers}
        relayed = {world.domain(r) for r, _, _ in world.relays}
        by_domain: dict[int, list[tuple[str, Path, str]]] = {}
        for client in world.clients:
            domain = world.domain(client[0])
            if domain not in served and domain not in relayed:
                by_domain.setdefault(domain, []).append(client)
        out = []
        for domain, clients in by_domain.items():
            server_ep, server_path, _, server_addrs = world.servers[0]
            router = next(((ep, p, addrs) for ep, p, addrs in world.router_ifaces
                           if world.domain(ep) == domain), None)
            if router is None:
                continue        # no router on the segment: not a relay problem (no-uplink?)
            names = [who for _, _, who in clients]
            evidence: list[Evidence] = [ctx.config(p) for _, p, _ in clients[:8]]
            evidence.append(ctx.config(server_path))
            fixes: list[Fix] = []
            fixer = None
            if router is not None and server_addrs:
                ep, rpath, _ = router
                node, _, iface = ep.partition(":")
                server_ip = ip4_str(server_addrs[0][0])
                evidence.append(ctx.config((*rpath, "dhcp-relay"), default="none"))
                fixes = [Fix(text("doctor.where.router", router=node),
                             (f"interface {iface}", f" ip helper-address {server_ip}")),
                         Fix(text("doctor.where.router_linux", router=node),
                             (f"dhcrelay -i {iface} {server_ip}",))]
                fixer = partial(_add_relay, path=rpath, server=server_ip)
            vms = [n for n in names if n in ctx.spec.vms]
            out.append(self.finding(
                ctx, world.host_of(ctx, names[0]), names[0], evidence,
                text("doctor.dhcp.no_relay", clients=", ".join(names[:8]), server=server_ep,
                     router=router[0] if router is not None else "-"),
                fixes, affected=vms, fixer=fixer, probe=traffic_probe(ctx, vms)))
        return out


def _add_relay(doc: Doc, path: Path, server: str) -> Doc:
    node: Any = doc
    for element in path:
        node = node[element]
    node["dhcp-relay"] = {"server": server}
    return doc
