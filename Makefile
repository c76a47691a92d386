# vnetlab: `make demo` and `make test` work on a fresh machine (they set everything up).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast lint bench system-deps ovs-oracle clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Debian packages the tests use (real kernel bridges in namespaces, dnsmasq as DHCP server,
# ISC dhclient as the guest DHCP client, iptables/nft for br_netfilter, tshark as the pcap
# oracle, Chromium and a CJK font for the HTML report test): installed when root.
system-deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  missing=""; \
	  for p in iproute2 iputils-ping tcpdump dnsmasq-base isc-dhcp-client iptables nftables tshark chromium fonts-noto-cjk; do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; fi; \
	else echo "system-deps: not root or no apt-get; kernel tests need iproute2, dnsmasq, dhclient, iptables"; fi

# Optional oracle of the OVS model (tests/kernel/test_ovs_oracle.py): Debian's Open vSwitch
# downloaded and unpacked, not installed, into /var/cache/vnetlab/ovs (as root; idempotent).
# Never fails: when it cannot, the reason goes to /var/cache/vnetlab/ovs/unavailable and the
# test is skipped quoting it.
ovs-oracle:
	@sh tests/kernel/ovs_fetch.sh

demo: $(STAMP)
	$(VENV)/bin/vnetlab catalog run
	$(VENV)/bin/vnetlab explain --case team-roundrobin
	$(VENV)/bin/vnetlab explain --case firewall-docker-forward-drop --dhcp vm1
	$(VENV)/bin/vnetlab explain --case migration-ovs-rarp-lost --ping vm2 --seq 16
	$(VENV)/bin/vnetlab sweep --case migration-ovs-rarp-lost --vary 'agent.bind_delay=uniform(0.3s,3.3s)' \
	  --vary 'announce.rounds=[5,10]' --runs 500 --metric outage --threshold 2s
	-$(VENV)/bin/vnetlab doctor --prove src/vnetlab/catalog/team-roundrobin.yaml src/vnetlab/catalog/migration-ovs-rarp-lost.yaml
	$(VENV)/bin/vnetlab catalog report -o demo-reports
	@echo "HTML reports (open in a browser): demo-reports/index.html"
	$(VENV)/bin/vnetlab matrix

test: $(STAMP) system-deps ovs-oracle
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) bench/run.py
	$(PY) bench/matrix.py
	$(PY) bench/sweep.py
	$(PY) bench/fleet.py
	$(PY) bench/capture.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
