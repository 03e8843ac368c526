//! The cluster metadata cache: brokers, controller, topics and partitions, generation-counted.
