//! Where tests and tools find Kafka brokers: environment variables, or testcontainers.
