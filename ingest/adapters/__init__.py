"""What real hardware speaks, turned into Anxin's canonical messages: the "3G" watch
protocol (through the TCP gateway); Zigbee2MQTT and OwnTracks follow."""
