"""Gateways for devices that cannot speak MQTT: each a process of its own that speaks a
device's protocol on one side and publishes to the broker like any device on the other
(`watch/`: the "3G" watch's TCP protocol). Ingest never knows a gateway was there."""
