"""Device simulators. They speak MQTT only, like real devices."""
