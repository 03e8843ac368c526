//! ApiVersions negotiation: per-broker version ranges and the choice of version for a request.
