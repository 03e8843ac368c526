//! Offset storage migration between ZooKeeper (OffsetCommit/OffsetFetch v0) and Kafka
//! (v1+): to come.
