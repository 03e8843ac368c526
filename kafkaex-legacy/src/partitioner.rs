//! KafkaEx's partitioners: to come.
