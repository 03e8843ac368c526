//! `KafkaEx.GenConsumer`: to come.
