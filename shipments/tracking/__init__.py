"""What the courier reports on the way: tracking events, recorded by tracking_event_record and shown on the
shipment's timeline."""
