//! Request and response headers (placeholder).
