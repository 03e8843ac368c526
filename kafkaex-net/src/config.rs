//! Settings of the connection layer: client id, timeouts, TLS, SASL, retries.
