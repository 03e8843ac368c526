//! KafkaEx's error atoms: to come.
