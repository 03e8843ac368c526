//! Murmur2 (placeholder).
