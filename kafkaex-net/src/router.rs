//! Routing requests to a node, any broker, a partition leader, a coordinator or the controller.
