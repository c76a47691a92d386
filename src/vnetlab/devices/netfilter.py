"""Netfilter for IPv4 on a host: the filter table's INPUT, FORWARD and OUTPUT
chains as iptables and nftables evaluate them, the br_netfilter hook that
hands bridged IPv4 to them, and a minimal connection tracker.

Mirrors (semantics B22-B24, D8):

* net/netfilter/core.c ``nf_hook_slow``: the base chains registered at a hook
  run in priority order; ACCEPT passes the packet to the next one, the first
  DROP ends it. iptables' filter table sits at priority 0
  (NF_IP_PRI_FILTER); nft base chains at their own priority; equal
  priorities run iptables first, then nft tables in file order.
* net/ipv4/netfilter/ip_tables.c ``ipt_do_table`` and
  net/netfilter/nf_tables_core.c ``nft_do_chain``: rules in order, the first
  matching rule with a terminal target decides; ``-j CHAIN``/``jump`` pushes
  a return point, ``-g``/``goto`` does not; RETURN or the end of a user
  chain returns; RETURN in, or the end of, a base chain applies its policy.
  LOG, ``counter``, ``log`` and comments are non-terminal.
* net/bridge/br_netfilter_hooks.c ``br_nf_forward_ip`` (B22): with the
  module loaded and ``bridge-nf-call-iptables`` 1 (the default once loaded),
  a bridged IPv4 frame (untagged: ``brnf_filter_vlan_tagged`` is 0) is
  handed to the IPv4 FORWARD hook with in and out device = the bridge
  device; the ports are visible to ``-m physdev`` only. So iptables
  ``FORWARD`` and nft ``ip``/``inet`` ``forward`` chains see bridged IPv4;
  nft ``bridge`` family ``forward`` chains see every bridged frame (ARP
  too), module or not, with the ports as iif/oif. Frames the bridge passes
  up to the host reach INPUT from the host's IP stack (ip_local_deliver),
  loaded or not; frames the host sends go through OUTPUT, never FORWARD.
* net/netfilter/xt_physdev.c ``physdev_mt`` (no bridge info: every
  non-inverted physdev option fails), xt_tcpudp (no port match on a
  non-first fragment), xt_conntrack.
* iptables-restore ``--noflush``: text is applied on top of what is there
  (a preset's rules); ``:CHAIN -`` flushes an existing user chain, as
  iptables-restore does ("Flushing existing user defined chain").

Connection tracking (``ctstate``/``ct state``) is a minimal nf_conntrack:
one entry per flow keyed by its original and reply tuples (UDP ports, ICMP
echo id), created NEW by the first packet a hook accepts (confirmed then,
as __nf_conntrack_confirm does after the last hook), ESTABLISHED for a
packet of the reply direction and for every packet once a reply was seen;
an ICMP echo reply with no request is INVALID (icmp_new refuses it). Timeouts
as nf_conntrack_proto_icmp/udp: 30 s ICMP, 30 s UDP unreplied, 120 s
replied. RELATED needs ICMP errors and helpers: never produced.

Limitations: IPv4 filter tables only (ip6tables and arptables are not
modelled: ARP is never filtered, except by nft ``bridge`` chains); nat,
mangle, raw and security tables and nft nat/route chains are parsed and
reported as not evaluated (no NAT); PREROUTING/POSTROUTING filter chains
are not evaluated; REJECT drops the packet and records that the kernel
would answer with an ICMP error from the host's own stack, which is not
generated; fragments are filtered one by one (the kernel's nf_defrag_ipv4
reassembles them first once conntrack is loaded); ``physdev`` matches in
INPUT do not know the bridge port a frame came in on; interface names match
exactly or by ``+``/``*`` prefix.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vnetlab.net.addr import Ip4, netmask, parse_ip4
from vnetlab.net.frame import EtherType, Frame, Icmp, IcmpType, IpProto, Ipv4, Udp
from vnetlab.sim.sim import Sim
from vnetlab.sim.time import S, Time
from vnetlab.sim.trace import Action, DropReason

# -- errors -----------------------------------------------------------------------------------


class NfError(ValueError):
    """A rule text the real tool would refuse: ``line`` and ``column`` are 1-based
    within that text (0: its whole)."""

    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.column = column
        self.message = message


# -- the ruleset -----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Match:
    """One match of a rule: ``kind`` names what it tests (see ``_matches``)."""

    kind: str
    value: Any
    negate: bool = False


@dataclass(frozen=True, slots=True)
class Target:
    kind: str                 # ACCEPT DROP REJECT RETURN JUMP GOTO CONTINUE
    chain: str = ""


@dataclass(slots=True)
class Rule:
    matches: tuple[Match, ...]
    target: Target
    text: str
    line: int


@dataclass(slots=True)
class Chain:
    name: str
    rules: list[Rule] = field(default_factory=list)
    policy: str | None = None       # base chains: ACCEPT or DROP
    hook: str | None = None         # input / forward / output / prerouting / ...
    priority: int = 0
    evaluated: bool = True          # a filter chain on a hook vnetlab runs


@dataclass(slots=True)
class Table:
    source: str                     # "iptables" or "nft"
    family: str                     # ip / inet / bridge (iptables: ip)
    name: str
    chains: dict[str, Chain] = field(default_factory=dict)

    def label(self, chain: Chain) -> str:
        """``filter FORWARD`` (iptables) or ``inet filter forward`` (nft)."""
        if self.source == "iptables":
            return f"{self.name} {chain.name}"
        return f"{self.family} {self.name} {chain.name}"


@dataclass(slots=True)
class Ruleset:
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def iptables(self, name: str) -> Table | None:
        return next((t for t in self.tables if t.source == "iptables" and t.name == name), None)

    def base_chains(self, hook: str, families: tuple[str, ...]) -> list[tuple[Table, Chain]]:
        """The evaluated base chains at ``hook`` for these families, in the order
        nf_hook_slow runs them (priority; iptables before nft at equal priority)."""
        found = [(t, c) for t in self.tables if t.family in families for c in t.chains.values()
                 if c.hook == hook and c.evaluated]
        return sorted(found, key=lambda tc: (tc[1].priority, tc[0].source != "iptables"))


IPT_BUILTIN = {"filter": ("INPUT", "FORWARD", "OUTPUT"),
               "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
               "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
               "raw": ("PREROUTING", "OUTPUT"),
               "security": ("INPUT", "FORWARD", "OUTPUT")}
TERMINAL = ("ACCEPT", "DROP", "REJECT", "RETURN")
PROTOCOLS = {"icmp": IpProto.ICMP, "tcp": IpProto.TCP, "udp": IpProto.UDP, "1": IpProto.ICMP,
             "6": IpProto.TCP, "17": IpProto.UDP}
ICMP_TYPES = {"echo-reply": 0, "pong": 0, "echo-request": 8, "ping": 8,
              "destination-unreachable": 3, "time-exceeded": 11}
CT_STATES = ("NEW", "ESTABLISHED", "RELATED", "INVALID", "UNTRACKED")


# -- iptables-restore -------------------------------------------------------------------------

def parse_iptables(text: str, ruleset: Ruleset | None = None) -> Ruleset:
    """Apply ``iptables-save`` text as ``iptables-restore --noflush`` would: tables
    ``*name`` ... ``COMMIT``, chain lines ``:NAME POLICY [c:b]``, and commands
    (-A, -I, -N, -P, -F). NfError at the first problem, with its line."""
    rs = ruleset if ruleset is not None else Ruleset()
    table: Table | None = None
    table_line = 0
    skipped = 0
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        col = len(raw) - len(raw.lstrip()) + 1
        if line.startswith("*"):
            if table is not None:
                raise NfError(lineno, col, f"COMMIT expected before '{line}' (table "
                              f"{table.name} opened at line {table_line} is not committed)")
            name = line[1:].strip()
            if name not in IPT_BUILTIN:
                raise NfError(lineno, col, f"table '{name}' does not exist (iptables has: "
                              f"{', '.join(IPT_BUILTIN)})")
            table = rs.iptables(name)
            if table is None:
                table = Table("iptables", "ip", name)
                for chain in IPT_BUILTIN[name]:
                    table.chains[chain] = Chain(chain, policy="ACCEPT",
                                                hook=chain.lower() if name == "filter" else None,
                                                evaluated=name == "filter")
                rs.tables.append(table)
            table_line = lineno
            skipped = 0
            continue
        if table is None:
            raise NfError(lineno, col, f"'{line.split()[0]}' outside a table: start one with "
                          "'*filter'")
        if line == "COMMIT":
            _check_table(table)
            if table.name != "filter":
                rs.notes.append(f"iptables table {table.name}: parsed, not evaluated (vnetlab "
                                "models the filter table; no NAT)" +
                                (f", {skipped} rules" if skipped else ""))
            table = None
            continue
        if table.name != "filter":
            skipped += line.startswith("-")
            continue                    # only the filter table is evaluated
        if line.startswith(":"):
            _chain_line(table, line, lineno, col)
            continue
        _command(table, raw, lineno)
    if table is not None:
        raise NfError(len(text.splitlines()) or 1, 1,
                      f"COMMIT expected at line {len(text.splitlines())} (table {table.name} "
                      f"opened at line {table_line})")
    return rs


def _chain_line(table: Table, line: str, lineno: int, col: int) -> None:
    """``:NAME POLICY [packets:bytes]``."""
    parts = line[1:].split()
    if len(parts) < 2:
        raise NfError(lineno, col, f"chain line '{line}' needs a name and a policy")
    name, policy = parts[0], parts[1]
    builtin = name in IPT_BUILTIN[table.name]
    if builtin:
        if policy not in ("ACCEPT", "DROP"):
            raise NfError(lineno, col, f"bad policy '{policy}' for built-in chain {name} "
                          "(ACCEPT or DROP)")
        table.chains[name].policy = policy
        return
    if policy != "-":
        raise NfError(lineno, col, f"user chain {name} cannot have a policy ('{policy}'): "
                      "write ':" + name + " - [0:0]'")
    if len(name) > 28:
        raise NfError(lineno, col, f"invalid chain name '{name}' (28 chars max)")
    existing = table.chains.get(name)
    if existing is not None:
        existing.rules.clear()          # --noflush: "Flushing existing user defined chain"
    else:
        table.chains[name] = Chain(name)


def _check_table(table: Table) -> None:
    """At COMMIT: every jump has its chain (iptables-restore: "Couldn't load
    target"), no jump loop (the kernel refuses it: ELOOP)."""
    for chain in table.chains.values():
        for rule in chain.rules:
            target = rule.target
            if target.kind in ("JUMP", "GOTO") and target.chain not in table.chains:
                raise NfError(rule.line, 0, f"Couldn't load target '{target.chain}': no chain "
                              f"{target.chain} in table {table.name} (create it with "
                              f"':{target.chain} - [0:0]' or -N)")
            if target.kind in ("JUMP", "GOTO") and table.chains[target.chain].hook is not None:
                raise NfError(rule.line, 0, f"cannot jump to built-in chain {target.chain}")
    _check_loops(table)


def _check_loops(table: Table) -> None:
    state: dict[str, int] = {}

    def visit(name: str) -> None:
        state[name] = 1
        for rule in table.chains[name].rules:
            nxt = rule.target.chain
            if rule.target.kind in ("JUMP", "GOTO") and nxt in table.chains:
                if state.get(nxt) == 1:
                    raise NfError(rule.line, 0, f"jump to {nxt} makes a loop ({nxt} leads back "
                                  f"to {name}): the kernel refuses the table (ELOOP)")
                if nxt not in state:
                    visit(nxt)
        state[name] = 2

    for name in table.chains:
        if name not in state:
            visit(name)


def _command(table: Table, raw: str, lineno: int) -> None:
    """One iptables command line (as iptables-restore passes it to do_command4)."""
    try:
        tokens = shlex.split(raw, comments=False, posix=True)
    except ValueError as exc:
        raise NfError(lineno, 1, f"cannot split the line: {exc}") from None
    if tokens and re.fullmatch(r"\[\d+:\d+\]", tokens[0]):
        tokens = tokens[1:]             # iptables-save -c counters
    if not tokens:
        return

    def col_of(token_index: int) -> int:
        """Best-effort column of token ``token_index`` in the raw line."""
        pos = 0
        for i, tok in enumerate(tokens):
            found = raw.find(tok, pos)
            if found < 0:
                break
            if i == token_index:
                return found + 1
            pos = found + len(tok)
        return len(raw) - len(raw.lstrip()) + 1

    cmd = tokens[0]
    long = {"--append": "-A", "--insert": "-I", "--new-chain": "-N", "--new": "-N",
            "--policy": "-P", "--flush": "-F"}
    cmd = long.get(cmd, cmd)
    if cmd not in ("-A", "-I", "-N", "-P", "-F"):
        raise NfError(lineno, col_of(0), f"unknown command '{tokens[0]}' (vnetlab models -A, -I, "
                      "-N, -P and -F)")
    if cmd == "-F":
        for flushed in ([table.chains[tokens[1]]] if len(tokens) > 1 and tokens[1] in table.chains
                        else table.chains.values()):
            flushed.rules.clear()
        return
    if len(tokens) < 2:
        raise NfError(lineno, col_of(0), f"{tokens[0]} needs a chain name")
    name = tokens[1]
    if cmd == "-N":
        if name in table.chains:
            raise NfError(lineno, col_of(1), f"chain {name} already exists")
        table.chains[name] = Chain(name)
        return
    chain = table.chains.get(name)
    if chain is None:
        raise NfError(lineno, col_of(1), f"no chain/target/match by that name: chain '{name}' "
                      f"does not exist in table {table.name}")
    if cmd == "-P":
        if chain.hook is None or len(tokens) < 3 or tokens[2] not in ("ACCEPT", "DROP"):
            raise NfError(lineno, col_of(1), "-P needs a built-in chain and ACCEPT or DROP")
        chain.policy = tokens[2]
        return
    rest = tokens[2:]
    position = len(chain.rules)
    first = 2
    if cmd == "-I":
        position = 0
        if rest and rest[0].isdigit():
            number = int(rest[0])
            if not 1 <= number <= len(chain.rules) + 1:
                raise NfError(lineno, col_of(2), f"index of insertion too big: chain {name} has "
                              f"{len(chain.rules)} rules")
            position = number - 1
            rest = rest[1:]
            first = 3
    rule = _ipt_rule(rest, raw.strip(), lineno, chain, lambda i: col_of(i + first))
    chain.rules.insert(position, rule)


def _ipt_rule(tokens: list[str], text: str, lineno: int, chain: Chain,
              col: Callable[[int], int]) -> Rule:
    """The match and target options of one rule (iptables(8), iptables-extensions(8))."""
    matches: list[Match] = []
    target: Target | None = None
    proto = ""
    modules: set[str] = set()
    negate = False
    i = 0

    def value(what: str) -> str:
        if i + 1 >= len(tokens):
            raise NfError(lineno, col(i), f"option '{tokens[i]}' needs {what}")
        return tokens[i + 1]

    def add(kind: str, val: Any) -> None:
        matches.append(Match(kind, val, negate))

    while i < len(tokens):
        tok = tokens[i]
        if tok == "!":
            negate = True
            i += 1
            continue
        step = 2
        if tok in ("-p", "--protocol"):
            name = value("a protocol").lower()
            if name in ("all", "0"):
                proto = ""
            elif name not in PROTOCOLS:
                raise NfError(lineno, col(i + 1), f"unknown protocol '{name}' (vnetlab models "
                              "udp, tcp, icmp, all)")
            else:
                proto = name if not name.isdigit() else \
                    {"1": "icmp", "6": "tcp", "17": "udp"}[name]
                add("proto", int(PROTOCOLS[name]))
        elif tok in ("-s", "--source", "--src", "-d", "--destination", "--dst"):
            add("src" if tok in ("-s", "--source", "--src") else "dst",
                _cidr(value("an address"), lineno, col(i + 1)))
        elif tok in ("-i", "--in-interface", "-o", "--out-interface"):
            incoming = tok in ("-i", "--in-interface")
            if chain.hook == "output" and incoming:
                raise NfError(lineno, col(i), "Can't use -i with OUTPUT")
            if chain.hook == "input" and not incoming:
                raise NfError(lineno, col(i), "Can't use -o with INPUT")
            add("in" if incoming else "out", value("an interface name"))
        elif tok in ("-m", "--match"):
            module = value("a match module")
            if module not in ("physdev", "conntrack", "state", "comment", "multiport", "udp",
                              "tcp", "icmp"):
                raise NfError(lineno, col(i + 1), f"match '{module}' is not modelled (vnetlab "
                              "knows physdev, conntrack, state, multiport, udp, tcp, icmp, "
                              "comment)")
            if module in ("udp", "tcp", "icmp") and module != proto:
                raise NfError(lineno, col(i + 1), f"-m {module} needs '-p {module}' first")
            modules.add(module)
        elif tok in ("--dport", "--destination-port", "--sport", "--source-port"):
            if proto not in ("udp", "tcp"):
                raise NfError(lineno, col(i), f"unknown option '{tok}': ports need '-p udp' or "
                              "'-p tcp' first")
            add("dport" if "d" in tok[2:4] else "sport",
                _port_range(value("a port"), lineno, col(i + 1)))
        elif tok in ("--dports", "--sports", "--ports", "--destination-ports",
                     "--source-ports"):
            if "multiport" not in modules:
                raise NfError(lineno, col(i), f"unknown option '{tok}': needs '-m multiport'")
            ports = tuple(_port_range(p, lineno, col(i + 1)) for p in value("ports").split(","))
            kind = {"--dports": "dports", "--destination-ports": "dports", "--sports": "sports",
                    "--source-ports": "sports"}.get(tok, "ports")
            add(kind, ports)
        elif tok == "--icmp-type":
            if proto != "icmp":
                raise NfError(lineno, col(i), "unknown option '--icmp-type': needs '-p icmp'")
            name = value("an ICMP type")
            if name == "any":
                pass
            elif name.isdigit():
                add("icmp", int(name))
            elif name in ICMP_TYPES:
                add("icmp", ICMP_TYPES[name])
            else:
                raise NfError(lineno, col(i + 1), f"unknown ICMP type '{name}' (vnetlab knows "
                              f"{', '.join(ICMP_TYPES)})")
        elif tok in ("--physdev-in", "--physdev-out"):
            _needs(modules, "physdev", tok, lineno, col(i))
            add("physin" if tok == "--physdev-in" else "physout", value("a port name"))
        elif tok in ("--physdev-is-in", "--physdev-is-out", "--physdev-is-bridged"):
            _needs(modules, "physdev", tok, lineno, col(i))
            add(tok[2:], True)
            step = 1
        elif tok in ("--ctstate", "--state"):
            _needs(modules, "conntrack" if tok == "--ctstate" else "state", tok, lineno, col(i))
            states = tuple(s.upper() for s in value("states").split(","))
            bad = [s for s in states if s not in CT_STATES]
            if bad:
                raise NfError(lineno, col(i + 1), f"bad ctstate '{bad[0]}' (one of "
                              f"{', '.join(CT_STATES)})")
            add("ctstate", states)
        elif tok == "--comment":
            _needs(modules, "comment", tok, lineno, col(i))
        elif tok in ("-j", "--jump", "-g", "--goto"):
            name = value("a target")
            if tok in ("-g", "--goto"):
                target = Target("GOTO", name)
            elif name in TERMINAL:
                target = Target(name)
            elif name == "LOG":
                target = Target("CONTINUE")
            elif name in ("MASQUERADE", "SNAT", "DNAT", "REDIRECT", "MARK", "CONNMARK", "NOTRACK",
                          "CT", "TCPMSS", "NFLOG", "NFQUEUE"):
                raise NfError(lineno, col(i + 1), f"target {name} is not modelled in the filter "
                              "table")
            else:
                target = Target("JUMP", name)
            i += 2
            while i < len(tokens) and tokens[i] in ("--reject-with", "--log-prefix",
                                                    "--log-level"):
                i += 2                  # target options (REJECT, LOG): no effect here
            continue
        elif tok in ("-c", "--set-counters"):
            step = 3
        else:
            raise NfError(lineno, col(i), f"unknown option '{tok}'")
        if negate and tok in ("-m", "--match", "--comment", "-c", "--set-counters"):
            raise NfError(lineno, col(i), f"'!' cannot negate {tok}")
        negate = False
        i += step
    if target is None:
        target = Target("CONTINUE")     # a rule without -j only counts
    return Rule(tuple(matches), target, text, lineno)


def _needs(modules: set[str], module: str, option: str, lineno: int, col: int) -> None:
    if module not in modules:
        raise NfError(lineno, col, f"unknown option '{option}': needs '-m {module}' first")


def _cidr(text: str, lineno: int, col: int) -> tuple[Ip4, int]:
    addr, _, plen = text.partition("/")
    try:
        ip = parse_ip4(addr)
        prefix = int(plen) if plen else 32
    except ValueError:
        raise NfError(lineno, col, f"'{text}' is not an IPv4 address or network (like "
                      "10.0.0.0/8)") from None
    if not 0 <= prefix <= 32:
        raise NfError(lineno, col, f"'{text}': prefix length must be 0..32")
    return ip & netmask(prefix), prefix


def _port_range(text: str, lineno: int, col: int) -> tuple[int, int]:
    low, sep, high = text.replace("-", ":").partition(":")
    try:
        first = int(low) if low else 0
        last = int(high) if sep and high else (65535 if sep else first)
    except ValueError:
        raise NfError(lineno, col, f"'{text}' is not a port or port range") from None
    if not 0 <= first <= last <= 65535:
        raise NfError(lineno, col, f"'{text}' is not a port range within 0-65535")
    return first, last


# -- nft list ruleset ----------------------------------------------------------------------------

NFT_PRIORITIES = {"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0, "security": 50,
                  "srcnat": 100}
NFT_BRIDGE_PRIORITIES = {"dstnat": -300, "filter": -200, "out": 100, "srcnat": 300}
NFT_FAMILIES = ("ip", "inet", "bridge")
NFT_OTHER_FAMILIES = ("ip6", "arp", "netdev")

_NFT_TOKEN = re.compile(r'[ \t\r]*(?:(#[^\n]*)|("(?:[^"\\\n]|\\.)*")|(\n)|([{};,])|(!=|==)|([^\s{};,"#]+))')


@dataclass(frozen=True, slots=True)
class _Tok:
    text: str
    line: int
    col: int
    quoted: bool = False
    end: int = 0                    # offset in the text just after the token
    start: int = 0


def _nft_tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    line, line_start, pos = 1, 0, 0
    while pos < len(text):
        m = _NFT_TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            if text[pos:].strip():
                raise NfError(line, pos - line_start + 1, f"unexpected character "
                              f"'{text[pos:].strip()[0]}'")
            break
        start = m.start(m.lastindex or 0)
        col = start - line_start + 1
        if m.group(3):
            out.append(_Tok("\n", line, col, end=m.end(), start=start))
            line += 1
            line_start = m.end()
        elif m.group(2):
            out.append(_Tok(m.group(2)[1:-1], line, col, True, m.end(), start))
        elif m.group(1) is None:
            out.append(_Tok(m.group(m.lastindex or 0), line, col, end=m.end(), start=start))
        pos = m.end()
    return out


class _NftParser:
    """A recursive-descent reader for the ``nft list ruleset`` subset vnetlab
    models (docs/models/netfilter.md)."""

    def __init__(self, text: str, rs: Ruleset) -> None:
        self.toks = _nft_tokens(text)
        self.text = text
        self.i = 0
        self.rs = rs

    # token helpers
    def peek(self, skip_nl: bool = True) -> _Tok | None:
        while skip_nl and self.i < len(self.toks) and self.toks[self.i].text == "\n":
            self.i += 1
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, what: str, skip_nl: bool = True) -> _Tok:
        tok = self.peek(skip_nl)
        if tok is None:
            last = self.toks[-1] if self.toks else _Tok("", 1, 1)
            raise NfError(last.line, last.col, f"unexpected end of ruleset: expected {what}")
        self.i += 1
        return tok

    def expect(self, text: str) -> _Tok:
        tok = self.take(f"'{text}'")
        if tok.text != text or tok.quoted:
            raise NfError(tok.line, tok.col, f"expected '{text}', got '{tok.text}'")
        return tok

    def parse(self) -> None:
        while (tok := self.peek()) is not None:
            if tok.text == ";":
                self.i += 1
                continue
            if tok.text != "table":
                raise NfError(tok.line, tok.col, f"expected 'table', got '{tok.text}'")
            self.i += 1
            self.table()

    def table(self) -> None:
        fam = self.take("a family and table name")
        if fam.text in NFT_FAMILIES or fam.text in NFT_OTHER_FAMILIES:
            name_tok = self.take("a table name")
            family = fam.text
        else:                           # ``table NAME``: the ip family
            name_tok, family = fam, "ip"
        self.expect("{")
        if family in NFT_OTHER_FAMILIES:
            self.skip_block()
            self.rs.notes.append(f"nft table {family} {name_tok.text}: parsed, not evaluated "
                                 "(vnetlab models IPv4 and bridged frames: ip, inet, bridge)")
            return
        table = next((t for t in self.rs.tables if t.source == "nft" and t.family == family
                      and t.name == name_tok.text), None)
        if table is None:
            table = Table("nft", family, name_tok.text)
            self.rs.tables.append(table)
        while True:
            tok = self.take("'chain' or '}'")
            if tok.text == "}":
                break
            if tok.text == ";":
                continue
            if tok.text == "chain":
                self.chain(table)
            elif tok.text == "flags":
                self.skip_line()
            elif tok.text in ("set", "map", "flowtable", "counter", "quota", "ct", "limit"):
                raise NfError(tok.line, tok.col, f"nft '{tok.text}' objects are not modelled")
            else:
                raise NfError(tok.line, tok.col, f"expected 'chain' or '}}', got '{tok.text}'")
        for chain in table.chains.values():
            for rule in chain.rules:
                if rule.target.kind in ("JUMP", "GOTO"):
                    target = table.chains.get(rule.target.chain)
                    if target is None:
                        raise NfError(rule.line, 0, f"Could not process rule: No such file or "
                                      f"directory (no chain {rule.target.chain} in table "
                                      f"{family} {table.name})")
                    if target.hook is not None:
                        raise NfError(rule.line, 0, f"cannot jump to base chain "
                                      f"{rule.target.chain}")
        _check_loops(table)

    def skip_block(self) -> None:
        depth = 1
        while depth:
            tok = self.take("'}'")
            depth += {"{": 1, "}": -1}.get(tok.text, 0) if not tok.quoted else 0

    def skip_line(self) -> None:
        while (tok := self.peek(skip_nl=False)) is not None and tok.text not in ("\n", ";", "}"):
            self.i += 1

    def chain(self, table: Table) -> None:
        name = self.take("a chain name")
        self.expect("{")
        chain = table.chains.get(name.text)
        if chain is None:
            chain = table.chains[name.text] = Chain(name.text)
        while True:
            tok = self.peek()
            if tok is None:
                raise NfError(name.line, name.col, f"chain {name.text} is not closed with '}}'")
            if tok.text == "}" and not tok.quoted:
                self.i += 1
                return
            if tok.text == ";":
                self.i += 1
                continue
            stmt = self.statement()
            if stmt[0].text == "type":
                self.chain_type(table, chain, stmt)
            elif stmt[0].text == "policy":
                self.policy(chain, stmt)
            else:
                source = self.text[stmt[0].start:stmt[-1].end]
                chain.rules.append(_nft_rule(stmt, table.family, " ".join(source.split())))

    def statement(self) -> list[_Tok]:
        """Tokens up to a newline, ``;`` or the chain's closing brace; braces
        inside (sets) are kept."""
        out: list[_Tok] = []
        depth = 0
        while (tok := self.peek(skip_nl=False)) is not None:
            if not tok.quoted:
                if tok.text in ("\n", ";") and depth == 0:
                    self.i += 1
                    break
                if tok.text == "}" and depth == 0:
                    break
                if tok.text == "{":
                    depth += 1
                elif tok.text == "}":
                    depth -= 1
            out.append(tok)
            self.i += 1
        return out

    def chain_type(self, table: Table, chain: Chain, stmt: list[_Tok]) -> None:
        """``type filter hook forward priority filter`` (``; policy drop`` follows)."""
        words = [t.text for t in stmt]
        if len(words) < 6 or words[2] != "hook" or words[4] != "priority":
            raise NfError(stmt[0].line, stmt[0].col, "expected 'type TYPE hook HOOK priority "
                          "PRIORITY'")
        kind, hook = words[1], words[3]
        hooks = ("prerouting", "input", "forward", "output", "postrouting", "ingress")
        if kind not in ("filter", "nat", "route"):
            raise NfError(stmt[1].line, stmt[1].col, f"unknown chain type '{kind}'")
        if hook not in hooks:
            raise NfError(stmt[3].line, stmt[3].col, f"unknown hook '{hook}' (one of "
                          f"{', '.join(hooks)})")
        chain.hook = hook
        chain.priority = _nft_priority(stmt[5:], table.family)
        chain.policy = chain.policy or "ACCEPT"
        chain.evaluated = kind == "filter" and hook in (("forward",) if table.family == "bridge"
                                                       else ("input", "forward", "output"))
        if not chain.evaluated:
            self.rs.notes.append(f"nft chain {table.family} {table.name} {chain.name} (type "
                                 f"{kind} hook {hook}): parsed, not evaluated")

    def policy(self, chain: Chain, stmt: list[_Tok]) -> None:
        if len(stmt) != 2 or stmt[1].text not in ("accept", "drop"):
            raise NfError(stmt[0].line, stmt[0].col, "expected 'policy accept' or 'policy drop'")
        if chain.hook is None:
            raise NfError(stmt[0].line, stmt[0].col, "a policy needs a base chain ('type ... "
                          "hook ...' first)")
        chain.policy = stmt[1].text.upper()


def _nft_priority(toks: list[_Tok], family: str) -> int:
    names = NFT_BRIDGE_PRIORITIES if family == "bridge" else NFT_PRIORITIES
    text = " ".join(t.text for t in toks)
    m = re.fullmatch(r"(-?\d+)|([a-z]+)(?:\s*([+-])\s*(\d+))?", text)
    if m is None or (m.group(2) and m.group(2) not in names):
        raise NfError(toks[0].line if toks else 0, toks[0].col if toks else 0,
                      f"bad priority '{text}' (a number or one of {', '.join(names)}[ +/- N])")
    if m.group(1):
        return int(m.group(1))
    base = names[m.group(2)]
    offset = int(m.group(4)) if m.group(4) else 0
    return base + offset if m.group(3) != "-" else base - offset


_NFT_SELECTORS = {
    ("iifname",): "in", ("oifname",): "out", ("iif",): "in", ("oif",): "out",
    ("meta", "iifname"): "in", ("meta", "oifname"): "out", ("meta", "iif"): "in",
    ("meta", "oif"): "out", ("meta", "ibrname"): "ibr", ("meta", "obrname"): "obr",
    ("meta", "l4proto"): "proto", ("ip", "protocol"): "proto", ("ip", "saddr"): "src",
    ("ip", "daddr"): "dst", ("udp", "dport"): "udp-dport", ("udp", "sport"): "udp-sport",
    ("tcp", "dport"): "tcp-dport", ("tcp", "sport"): "tcp-sport", ("th", "dport"): "dport",
    ("th", "sport"): "sport", ("icmp", "type"): "icmp", ("ct", "state"): "ctstate",
    ("ether", "type"): "ethertype", ("meta", "protocol"): "ethertype",
}
_ETHERTYPES = {"ip": EtherType.IPV4, "arp": EtherType.ARP, "ip6": 0x86DD, "vlan": EtherType.VLAN}


def _nft_rule(stmt: list[_Tok], family: str, text: str) -> Rule:
    """``iifname "br0" udp dport { 67, 68 } ct state established,related accept``."""
    matches: list[Match] = []
    target: Target | None = None
    line = stmt[0].line
    i = 0
    while i < len(stmt):
        tok = stmt[i]
        word = tok.text
        if target is not None and word != "comment":
            raise NfError(tok.line, tok.col, f"'{word}' after the verdict")
        if word in ("accept", "drop", "return", "continue"):
            target = Target("CONTINUE" if word == "continue" else word.upper())
            i += 1
            continue
        if word == "reject":
            target = Target("REJECT")
            i += 1
            while i < len(stmt) and stmt[i].text != "comment":
                i += 1                  # "with icmp type ..." / "with tcp reset"
            continue
        if word in ("jump", "goto"):
            if i + 1 >= len(stmt):
                raise NfError(tok.line, tok.col, f"'{word}' needs a chain")
            target = Target("JUMP" if word == "jump" else "GOTO", stmt[i + 1].text)
            i += 2
            continue
        if word == "counter":
            i += 1
            while i + 1 < len(stmt) and stmt[i].text in ("packets", "bytes"):
                i += 2
            continue
        if word == "log":
            i += 1
            while i + 1 < len(stmt) and stmt[i].text in ("prefix", "level", "flags", "group"):
                i += 2
            continue
        if word == "comment":
            i += 2
            continue
        key: tuple[str, ...] | None = None
        for size in (2, 1):
            cand = tuple(t.text for t in stmt[i:i + size])
            if cand in _NFT_SELECTORS and not any(t.quoted for t in stmt[i:i + size]):
                key = cand
                break
        if key is None:
            raise NfError(tok.line, tok.col, f"unknown expression '{word}' (vnetlab models "
                          "iifname, oifname, meta l4proto/ibrname/obrname/protocol, ip "
                          "saddr/daddr/protocol, udp/tcp/th dport/sport, icmp type, ct state, "
                          "ether type and the verdicts)")
        kind = _NFT_SELECTORS[key]
        i += len(key)
        negate = False
        if i < len(stmt) and stmt[i].text in ("==", "!="):
            negate = stmt[i].text == "!="
            i += 1
        values, i = _nft_values(stmt, i)
        if not values:
            raise NfError(tok.line, tok.col, f"'{' '.join(key)}' needs a value")
        matches.extend(_nft_match(kind, values, negate, family))
    if target is None:
        target = Target("CONTINUE")
    return Rule(tuple(matches), target, text, line)


def _nft_values(stmt: list[_Tok], i: int) -> tuple[list[_Tok], int]:
    """One value, ``a,b`` or a set ``{ a, b }``."""
    if i >= len(stmt):
        return [], i
    if stmt[i].text == "{" and not stmt[i].quoted:
        out = []
        i += 1
        while i < len(stmt) and not (stmt[i].text == "}" and not stmt[i].quoted):
            if stmt[i].text != ",":
                out.append(stmt[i])
            i += 1
        return out, i + 1
    out = [stmt[i]]
    i += 1
    while i + 1 < len(stmt) and stmt[i].text == ",":
        out.append(stmt[i + 1])
        i += 2
    return out, i


def _nft_match(kind: str, values: list[_Tok], negate: bool, family: str) -> list[Match]:
    first = values[0]

    def err(message: str) -> NfError:
        return NfError(first.line, first.col, message)

    if kind in ("in", "out", "ibr", "obr"):
        if len(values) != 1:
            raise err("one interface name per match")
        name = first.text[:-1] + "+" if first.text.endswith("*") else first.text
        return [Match(kind, name, negate)]
    if kind in ("src", "dst"):
        if len(values) != 1:
            raise err("one address or network per match")
        return [Match(kind, _cidr(first.text, first.line, first.col), negate)]
    if kind == "proto":
        protos = []
        for v in values:
            if v.text not in PROTOCOLS:
                raise NfError(v.line, v.col, f"unknown protocol '{v.text}' (udp, tcp, icmp)")
            protos.append(int(PROTOCOLS[v.text]))
        return [Match("protos", tuple(protos), negate)]
    if kind in ("udp-dport", "udp-sport", "tcp-dport", "tcp-sport", "dport", "sport"):
        proto, _, which = kind.rpartition("-")
        ranges = tuple(_port_range(v.text, v.line, v.col) for v in values)
        out = [Match("protos", (int(PROTOCOLS[proto]),))] if proto else \
            [Match("protos", (int(IpProto.UDP), int(IpProto.TCP)))]
        return [*out, Match(which + "s", ranges, negate)]
    if kind == "icmp":
        types = []
        for v in values:
            if v.text not in ICMP_TYPES:
                raise NfError(v.line, v.col, f"unknown ICMP type '{v.text}' (vnetlab knows "
                              f"{', '.join(ICMP_TYPES)})")
            types.append(ICMP_TYPES[v.text])
        return [Match("protos", (int(IpProto.ICMP),)), Match("icmps", tuple(types), negate)]
    if kind == "ctstate":
        states = []
        for v in values:
            for s in v.text.split(","):
                if s.upper() not in CT_STATES:
                    raise NfError(v.line, v.col, f"bad ct state '{s}' (one of "
                                  f"{', '.join(x.lower() for x in CT_STATES)})")
                states.append(s.upper())
        return [Match("ctstate", tuple(states), negate)]
    types = []
    for v in values:
        if v.text not in _ETHERTYPES:
            raise NfError(v.line, v.col, f"unknown ether type '{v.text}' (ip, arp, ip6, vlan)")
        types.append(int(_ETHERTYPES[v.text]))
    return [Match("ethertype", tuple(types), negate)]


def parse_nft(text: str, ruleset: Ruleset | None = None) -> Ruleset:
    """Add the tables of ``nft list ruleset`` text (the subset in
    docs/models/netfilter.md). NfError at the first problem, with its line."""
    rs = ruleset if ruleset is not None else Ruleset()
    _NftParser(text, rs).parse()
    return rs


# -- presets ----------------------------------------------------------------------------------

# What dockerd installs in the filter table at start (default bridge docker0,
# 172.17.0.0/16): moby integration/network/bridge/iptablesdoc/generated/new-daemon.md
# (the rules libnetwork's setupUserChain, setupIPTables, ProgramChain, setIcc and
# defaultDrop create), with the FORWARD policy DROP that setupIPForwarding
# (libnetwork/drivers/bridge/setup_ip_forwarding.go) sets when dockerd had to
# enable net.ipv4.ip_forward itself; setupBridgeNetFiltering sets
# bridge-nf-call-iptables to 1 (B24).
DOCKER_PRESET = """\
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:DOCKER - [0:0]
:DOCKER-ISOLATION-STAGE-1 - [0:0]
:DOCKER-ISOLATION-STAGE-2 - [0:0]
:DOCKER-USER - [0:0]
-A FORWARD -j DOCKER-USER
-A FORWARD -j DOCKER-ISOLATION-STAGE-1
-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -o docker0 -j DOCKER
-A FORWARD -i docker0 ! -o docker0 -j ACCEPT
-A FORWARD -i docker0 -o docker0 -j ACCEPT
-A DOCKER ! -i docker0 -o docker0 -j DROP
-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2
-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP
-A DOCKER-USER -j RETURN
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:DOCKER - [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
-A DOCKER -i docker0 -j RETURN
COMMIT
"""

PRESETS = {"docker": DOCKER_PRESET}


def build_ruleset(preset: str | None, iptables: str | None, nftables: str | None
                  ) -> tuple[Ruleset, str, NfError] | Ruleset:
    """The host's ruleset: the preset, then ``iptables`` (as iptables-restore
    --noflush), then ``nftables``. On a problem: (partial ruleset, which text
    - "preset", "iptables" or "nftables" - and the error)."""
    rs = Ruleset()
    for name, text, parse in (("preset", PRESETS.get(preset or ""), parse_iptables),
                              ("iptables", iptables, parse_iptables),
                              ("nftables", nftables, parse_nft)):
        if not text:
            continue
        try:
            parse(text, rs)
        except NfError as exc:
            return rs, name, exc
    return rs


# -- evaluation ------------------------------------------------------------------------------

@dataclass(slots=True)
class NfPacket:
    """What a hook's rules can see of one packet."""

    ethertype: int
    src: Ip4 = 0
    dst: Ip4 = 0
    proto: int = -1                 # -1: not IPv4
    sport: int = -1
    dport: int = -1
    icmp_type: int = -1
    later_fragment: bool = False    # fragment offset != 0: no L4 header
    indev: str = ""
    outdev: str = ""
    nf_bridge: bool = False         # br_netfilter attached its info (physdev can look)
    physin: str = ""
    physout: str = ""
    ibr: str = ""
    obr: str = ""
    ctstate: str = "UNTRACKED"


def packet_view(ethertype: int, packet: Ipv4 | None) -> NfPacket:
    pkt = NfPacket(ethertype)
    if packet is None:
        return pkt
    pkt.src, pkt.dst = packet.src, packet.dst
    pkt.proto = int(packet.proto)
    later = packet.frag_off > 0
    pkt.later_fragment = later
    body = packet.payload
    if not later:
        if type(body) is Udp:
            pkt.sport, pkt.dport = body.sport, body.dport
        elif type(body) is Icmp:
            pkt.icmp_type = int(body.type)
    return pkt


def _ifname_match(pattern: str, name: str) -> bool:
    """iptables' interface match: exact, or a prefix with a trailing ``+``."""
    if pattern.endswith("+"):
        return name.startswith(pattern[:-1])
    return name == pattern


def _matches(m: Match, p: NfPacket) -> bool:
    kind = m.kind
    if kind in ("physin", "physout", "physdev-is-in", "physdev-is-out", "physdev-is-bridged"):
        return _physdev(m, p)
    if kind in ("sport", "dport", "sports", "dports", "ports") and (p.later_fragment
                                                                   or p.sport < 0):
        return False                    # xt_tcpudp: no match on a non-first fragment
    if p.proto < 0 and kind in ("proto", "protos", "src", "dst", "sport", "dport", "sports",
                                "dports", "ports", "icmp", "icmps"):
        return False                    # not IPv4: an implicit dependency fails (nft bridge)
    if kind == "proto":
        hit = p.proto == m.value
    elif kind == "protos":
        hit = p.proto in m.value
    elif kind in ("src", "dst"):
        net, plen = m.value
        hit = ((p.src if kind == "src" else p.dst) & netmask(plen)) == net
    elif kind in ("in", "out"):
        hit = _ifname_match(m.value, p.indev if kind == "in" else p.outdev)
    elif kind in ("ibr", "obr"):
        hit = _ifname_match(m.value, p.ibr if kind == "ibr" else p.obr)
    elif kind in ("sport", "dport"):
        low, high = m.value
        hit = low <= (p.sport if kind == "sport" else p.dport) <= high
    elif kind in ("sports", "dports", "ports"):
        ports = ((p.sport,) if kind == "sports" else (p.dport,) if kind == "dports"
                 else (p.sport, p.dport))
        hit = any(low <= port <= high for port in ports for low, high in m.value)
    elif kind == "icmp":
        hit = p.icmp_type == m.value
    elif kind == "icmps":
        hit = p.icmp_type in m.value
    elif kind == "ctstate":
        hit = p.ctstate in m.value
    elif kind == "ethertype":
        hit = p.ethertype in m.value
    else:                               # pragma: no cover - every kind is parsed above
        raise AssertionError(kind)
    return bool(hit) != m.negate


def _physdev(m: Match, p: NfPacket) -> bool:
    """xt_physdev.c physdev_mt()."""
    if not p.nf_bridge:
        # "Not a bridged IP packet or no info available yet": every option
        # that is not inverted fails, inverted ones pass
        return m.negate
    kind = m.kind
    if kind == "physdev-is-bridged":
        hit = bool(p.physout)
    elif kind == "physdev-is-in":
        hit = bool(p.physin)
    elif kind == "physdev-is-out":
        hit = bool(p.physout)
    elif kind == "physin":
        hit = _ifname_match(m.value, p.physin)
    else:
        hit = _ifname_match(m.value, p.physout)
    return hit != m.negate


@dataclass(slots=True)
class Verdict:
    verdict: str                    # ACCEPT or DROP (REJECT is a DROP that would answer)
    label: str                      # "filter FORWARD"
    rule: Rule | None               # None: the policy decided
    number: int                     # the rule's position in its chain
    chain: str                      # the chain that holds the rule
    checked: int
    path: list[str]
    rejected: bool = False

    def sentence(self, table: Table, policy_chain: Chain) -> str:
        via = f" via {' -> '.join(self.path)}" if self.path else ""
        word = "accepted" if self.verdict == "ACCEPT" else "dropped"
        if self.rule is None:
            return (f"{word} by {table.label(policy_chain)} policy {self.verdict} (no rule "
                    f"matched: {self.checked} rules checked{via and ';' + via})")
        where = (f"{table.name} {self.chain}" if table.source == "iptables"
                 else f"{table.family} {table.name} {self.chain}")
        return f"{word} by {where} rule {self.number}: {self.rule.text}{via}"


def evaluate(table: Table, base: Chain, pkt: NfPacket) -> Verdict:
    """ipt_do_table() / nft_do_chain() for one base chain."""
    stack: list[tuple[Chain, int]] = []
    chain, index = base, 0
    checked = 0
    path: list[str] = []
    while True:
        if index >= len(chain.rules):
            if stack:                       # end of a user chain: implicit RETURN
                chain, index = stack.pop()
                continue
            return Verdict(base.policy or "ACCEPT", table.label(base), None, 0, base.name,
                           checked, path)
        rule = chain.rules[index]
        index += 1
        checked += 1
        if not all(_matches(m, pkt) for m in rule.matches):
            continue
        target = rule.target
        kind = target.kind
        if kind == "CONTINUE":
            continue
        if kind in ("ACCEPT", "DROP", "REJECT"):
            return Verdict("ACCEPT" if kind == "ACCEPT" else "DROP", table.label(base), rule,
                           index, chain.name, checked, path, rejected=kind == "REJECT")
        if kind == "RETURN":
            path.append(f"{chain.name} rule {index} RETURN")
            if stack:
                chain, index = stack.pop()
                continue
            return Verdict(base.policy or "ACCEPT", table.label(base), None, 0, base.name,
                           checked, path)
        path.append(f"{chain.name} rule {index} -> {target.chain}")
        if kind == "JUMP":
            stack.append((chain, index))
        chain, index = table.chains[target.chain], 0


# -- connection tracking -------------------------------------------------------------------------

CT_ICMP_TIMEOUT: Time = 30 * S          # nf_ct_icmp_timeout
CT_UDP_TIMEOUT: Time = 30 * S           # UDP_CT_UNREPLIED
CT_UDP_STREAM_TIMEOUT: Time = 120 * S   # UDP_CT_REPLIED


@dataclass(slots=True)
class CtEntry:
    original: tuple[int, ...]
    reply: tuple[int, ...]
    replied: bool
    expires: Time


def _tuples(packet: Ipv4) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """(original, reply) tuples as nf_ct_get_tuple / invert_tuple build them."""
    body = packet.payload
    if type(body) is Udp:
        return ((17, packet.src, packet.dst, body.sport, body.dport),
                (17, packet.dst, packet.src, body.dport, body.sport))
    if type(body) is Icmp:
        if body.type is IcmpType.ECHO_REQUEST:
            return ((1, packet.src, packet.dst, body.ident, 8),
                    (1, packet.dst, packet.src, body.ident, 0))
        return ((1, packet.src, packet.dst, body.ident, 0),
                (1, packet.dst, packet.src, body.ident, 8))
    return None


class Conntrack:
    """A host's connection table (one per network namespace)."""

    def __init__(self, sim: Sim) -> None:
        self.sim = sim
        self.entries: dict[tuple[int, ...], CtEntry] = {}

    def state(self, packet: Ipv4) -> tuple[str, tuple[int, ...] | None]:
        """nf_conntrack_in(): the packet's ctstate and the tuple it was seen with."""
        tuples = _tuples(packet)
        if tuples is None:
            return "UNTRACKED", None
        key = tuples[0]
        entry = self.entries.get(key)
        now = self.sim.now
        if entry is not None and entry.expires <= now:
            self.entries.pop(entry.original, None)
            self.entries.pop(entry.reply, None)
            entry = None
        if entry is not None:
            return ("ESTABLISHED" if entry.replied or key == entry.reply else "NEW"), key
        body = packet.payload
        if type(body) is Icmp and body.type is not IcmpType.ECHO_REQUEST:
            return "INVALID", None          # icmp_new(): a reply cannot start a connection
        return "NEW", key

    def confirm(self, packet: Ipv4, key: tuple[int, ...] | None) -> None:
        """__nf_conntrack_confirm() for a new flow, or the timeout refresh and
        IPS_SEEN_REPLY of a known one."""
        if key is None:
            return
        tuples = _tuples(packet)
        assert tuples is not None
        udp = type(packet.payload) is Udp
        entry = self.entries.get(key)
        now = self.sim.now
        if entry is None:
            entry = CtEntry(tuples[0], tuples[1], False, 0)
            self.entries[entry.original] = entry
            self.entries[entry.reply] = entry
        elif key == entry.reply:
            entry.replied = True
        timeout = (CT_UDP_STREAM_TIMEOUT if entry.replied else CT_UDP_TIMEOUT) if udp \
            else CT_ICMP_TIMEOUT
        entry.expires = now + timeout


# -- a host's netfilter -----------------------------------------------------------------------------

IPV4_FAMILIES = ("ip", "inet")


class Netfilter:
    """The netfilter state of one host (its network namespace): the ruleset,
    whether br_netfilter is loaded and hands bridged IPv4 to iptables
    (``bridge-nf-call-iptables``), and the connection table."""

    def __init__(self, sim: Sim, host: str, ruleset: Ruleset, *, br_netfilter: bool,
                 call_iptables: bool = True) -> None:
        self.sim = sim
        self.host = host
        self.ruleset = ruleset
        self.br_netfilter = br_netfilter
        self.call_iptables = call_iptables
        self.conntrack = Conntrack(sim)
        self._ct_uid = -1                   # the skb's conntrack, attached once per packet
        self._ct: tuple[str, tuple[int, ...] | None] = ("UNTRACKED", None)
        self.tracking = any(m.kind == "ctstate" for t in ruleset.tables
                            for c in t.chains.values() for r in c.rules for m in r.matches)
        self.bridge_chains = ruleset.base_chains("forward", ("bridge",))
        self.forward_chains = ruleset.base_chains("forward", IPV4_FAMILIES)
        self.input_chains = ruleset.base_chains("input", IPV4_FAMILIES)
        self.output_chains = ruleset.base_chains("output", IPV4_FAMILIES)

    @property
    def bridged_ipv4(self) -> bool:
        """br_nf_pre_routing(): IPv4 goes to iptables only with the module loaded and
        bridge-nf-call-iptables set (B22, B23)."""
        return self.br_netfilter and self.call_iptables

    def _ctstate(self, uid: int, packet: Ipv4) -> str:
        if uid != self._ct_uid:
            self._ct_uid = uid
            self._ct = self.conntrack.state(packet)
        return self._ct[0]

    def _confirm(self, packet: Ipv4) -> None:
        self.conntrack.confirm(packet, self._ct[1])

    # -- hooks ---------------------------------------------------------------------------------
    def bridge_forward(self, where: str, bridge: str, frame: Frame, in_port: str,
                       out_port: str, cause: int) -> int:
        """NF_BR_FORWARD for one copy leaving ``out_port``: nft bridge-family
        forward chains (priority filter = -200), then br_nf_forward_ip (B22)
        with in/out device = the bridge, the ports through physdev. Returns the
        cause for the next step, or -1 when the copy was dropped."""
        packet = frame.payload if type(frame.payload) is Ipv4 else None
        if self.bridge_chains:
            pkt = packet_view(frame.ethertype, packet)
            pkt.indev, pkt.outdev, pkt.ibr, pkt.obr = in_port, out_port, bridge, bridge
            if packet is not None:
                pkt.ctstate = self._ctstate(frame.uid, packet)
            cause = self._run(self.bridge_chains, pkt, where, out_port, frame.uid, cause,
                              "nft_do_chain", "B22", "bridged")
            if cause < 0:
                return cause
        if packet is None or frame.vlan or not self.bridged_ipv4 or \
                frame.ethertype != EtherType.IPV4:
            return cause
        chains = self.forward_chains
        pkt = packet_view(frame.ethertype, packet)
        pkt.indev = pkt.outdev = bridge     # brnf_get_logical_dev / bridge_parent
        pkt.nf_bridge, pkt.physin, pkt.physout = True, in_port, out_port
        if self.tracking or any(t.source == "nft" for t, _ in chains):
            pkt.ctstate = self._ctstate(frame.uid, packet)
        cause = self._run(chains, pkt, where, out_port, frame.uid, cause, "br_nf_forward_ip",
                          "B24", "bridged")
        if cause >= 0:
            self._confirm(packet)
        return cause

    def local_in(self, where: str, dev: str, frame: Frame, packet: Ipv4, cause: int) -> int:
        """NF_INET_LOCAL_IN from ip_local_deliver(): a packet for the host itself
        (D8: a DHCP server on the host is reached through INPUT)."""
        pkt = packet_view(frame.ethertype, packet)
        pkt.indev = dev
        pkt.ctstate = self._ctstate(frame.uid, packet)
        cause = self._run(self.input_chains, pkt, where, dev, frame.uid, cause, "nf_hook_slow",
                          "D8", "for the host")
        if cause >= 0:
            self._confirm(packet)
        return cause

    def local_out(self, where: str, dev: str, uid: int, packet: Ipv4, cause: int) -> int:
        """NF_INET_LOCAL_OUT from __ip_local_out(): a packet the host sends, before
        its next hop is resolved."""
        pkt = packet_view(EtherType.IPV4, packet)
        pkt.outdev = dev
        pkt.ctstate = self._ctstate(uid, packet)
        cause = self._run(self.output_chains, pkt, where, dev, uid, cause, "nf_hook_slow",
                          "D8", "sent by the host")
        if cause >= 0:
            self._confirm(packet)
        return cause

    def _run(self, chains: list[tuple[Table, Chain]], pkt: NfPacket, where: str, port: str,
             uid: int, cause: int, fn: str, rule: str, what: str) -> int:
        """nf_hook_slow(): the base chains in order; a step for each verdict
        worth telling (a chain with rules, or a DROP policy)."""
        sim = self.sim
        for table, chain in chains:
            verdict = evaluate(table, chain, pkt)
            data = {"table": table.label(chain), "chain": verdict.chain,
                    "rule": verdict.number, "verdict": verdict.verdict,
                    "text": verdict.rule.text if verdict.rule else f"policy {verdict.verdict}"}
            note = verdict.sentence(table, chain)
            if verdict.verdict == "DROP":
                if verdict.rejected:
                    note += (" (REJECT: the kernel would answer with an ICMP error from "
                             f"{self.host}'s own IP stack, icmp_send; vnetlab does not send it)")
                sim.step(where, port, Action.DROP, uid, f"{what} IPv4 {note}", fn, rule,
                         reason=DropReason.NETFILTER, cause=cause, data=data)
                return -1
            if sim.tracing and (chain.rules or chain.policy != "ACCEPT"):
                cause = sim.step(where, port, Action.NOTE, uid, f"{what} IPv4 {note}", fn,
                                 "B22" if rule == "B24" else rule, cause=cause, data=data)
        return cause

