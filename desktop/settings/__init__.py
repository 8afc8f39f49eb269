"""Settings: hardware and RPC workers, privacy and the network log, remote engines, serving."""
