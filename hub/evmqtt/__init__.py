"""The MQTT bridge: charge point state from Kafka (evcharge.cp-status) to MQTT,
with Home Assistant discovery, and HA's stop/resume buttons back to Central."""
