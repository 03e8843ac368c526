//! One negotiated broker connection: TCP (or TLS), ApiVersions, SASL, typed requests.
