//! `KafkaEx.ConsumerGroup`: to come.
