"""Store edge agent: capture -> detect -> seats -> state -> store -> uplink."""
