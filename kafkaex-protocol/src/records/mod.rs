//! Records (placeholder).
