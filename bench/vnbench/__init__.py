"""Helpers for `bench/run.py`: the vnetlab-vs-ns-3 bridged-LAN ping benchmark."""
