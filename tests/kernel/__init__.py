"""Real-kernel validation suite: vnetlab compared with Linux bridges in namespaces."""
