//! KafkaEx's names for Kafka error codes: the two code -> atom tables KafkaEx 0.15 uses.
//!
//! KafkaEx puts atoms such as `:no_error` or `:not_coordinator` in its response structs, not
//! numbers, and it has two tables that disagree on some names. [`ErrorAtom`] carries the code
//! and the name one of them gives it, so the facade can show the same names KafkaEx shows.
//!
//! # The legacy table: [`ErrorAtom::legacy`]
//!
//! `KafkaEx.Protocol.error/1`, in `lib/kafka_ex/protocol.ex` of kafkaex/kafka_ex at tag
//! `v0.15.0`: `-1` is `:unknown_error`, `0..=43` come from its `@error_map` (which has no entry
//! for 13), and any other code (13, 44 and above, below -1) is returned as the integer itself.
//!
//! # The Kayrock table: [`ErrorAtom::kayrock`]
//!
//! `Kayrock.ErrorCode.code_to_atom/1`, in `lib/kayrock/error_code.ex` of kafkaex/kayrock at tag
//! `v0.2.0` (KafkaEx 0.15.0's `mix.lock` pins `0.2.0-rc.1`, whose two files are identical): for
//! codes `-1..=71` it returns `Kayrock.KafkaSchemaMetadata.error_code_to_error/1`, generated into
//! `lib/generated/kafka_schema_metadata.ex` from klarna's kafka_protocol (`kpro_schema`), whose
//! names are those of the Java client's `Errors` enum (Kafka 2.x) in snake case. [`kayrock_code`]
//! is the reverse, `Kayrock.ErrorCode.atom_to_code/1`.
//!
//! For any other code Kayrock logs a warning and returns the atom `:unknown`; here the name is
//! `None` (so the code is displayed as a number) and the warning is logged with
//! [`tracing::warn!`].
//!
//! # Where KafkaEx uses which
//!
//! - The legacy servers (every `kafka_version` but `"kayrock"`) decode all responses with the
//!   `KafkaEx.Protocol.*` modules, which all use the legacy table.
//! - The Kayrock compatibility path (`kafka_version: "kayrock"`, `KafkaEx.New.Adapter`) uses the
//!   Kayrock table for every response (produce, list offsets, offset fetch/commit, join, sync,
//!   leave, heartbeat, create/delete topics, the new API's errors) **except** the fetch
//!   response's partition `error_code`, which goes through `KafkaEx.Protocol.error/1`.
//!
//! # Where they differ
//!
//! | code | legacy | Kayrock |
//! |-----:|--------|---------|
//! | -1 | `unknown_error` | `unknown_server_error` |
//! | 2 | `invalid_message` | `corrupt_message` |
//! | 4 | `invalid_message_size` | `invalid_fetch_size` |
//! | 10 | `message_size_too_large` | `message_too_large` |
//! | 13 | (the integer 13) | `network_exception` |
//! | 14 | `offset_loads_in_progress` | `coordinator_load_in_progress` |
//! | 15 | `consumer_coordinator_not_available` | `coordinator_not_available` |
//! | 16 | `not_coordinator_for_consumer` | `not_coordinator` |
//! | 17 | `invalid_topic` | `invalid_topic_exception` |
//! | 28 | `invalid_commit_offset` | `invalid_commit_offset_size` |
//! | 44..=71 | (the integer) | `policy_violation` .. `invalid_fetch_session_epoch` |
//!
//! ```
//! use kafkaex_legacy::error_names::{kayrock_code, ErrorAtom};
//!
//! assert_eq!(ErrorAtom::legacy(16), "not_coordinator_for_consumer");
//! assert_eq!(ErrorAtom::kayrock(16), "not_coordinator");
//! assert_eq!(ErrorAtom::legacy(50).to_string(), "50");
//! assert_eq!(kayrock_code("not_coordinator"), Some(16));
//! assert!(ErrorAtom::kayrock(0).is_ok());
//! ```

use std::fmt;

/// `KafkaEx.Protocol.error/1` (kafka_ex v0.15.0, `lib/kafka_ex/protocol.ex`), sorted by code.
const LEGACY: &[(i16, &str)] = &[
    (-1, "unknown_error"),
    (0, "no_error"),
    (1, "offset_out_of_range"),
    (2, "invalid_message"),
    (3, "unknown_topic_or_partition"),
    (4, "invalid_message_size"),
    (5, "leader_not_available"),
    (6, "not_leader_for_partition"),
    (7, "request_timed_out"),
    (8, "broker_not_available"),
    (9, "replica_not_available"),
    (10, "message_size_too_large"),
    (11, "stale_controller_epoch"),
    (12, "offset_metadata_too_large"),
    (14, "offset_loads_in_progress"),
    (15, "consumer_coordinator_not_available"),
    (16, "not_coordinator_for_consumer"),
    (17, "invalid_topic"),
    (18, "record_list_too_large"),
    (19, "not_enough_replicas"),
    (20, "not_enough_replicas_after_append"),
    (21, "invalid_required_acks"),
    (22, "illegal_generation"),
    (23, "inconsistent_group_protocol"),
    (24, "invalid_group_id"),
    (25, "unknown_member_id"),
    (26, "invalid_session_timeout"),
    (27, "rebalance_in_progress"),
    (28, "invalid_commit_offset"),
    (29, "topic_authorization_failed"),
    (30, "group_authorization_failed"),
    (31, "cluster_authorization_failed"),
    (32, "invalid_timestamp"),
    (33, "unsupported_sasl_mechanism"),
    (34, "illegal_sasl_state"),
    (35, "unsupported_version"),
    (36, "topic_already_exists"),
    (37, "invalid_partitions"),
    (38, "invalid_replication_factor"),
    (39, "invalid_replica_assignment"),
    (40, "invalid_config"),
    (41, "not_controller"),
    (42, "invalid_request"),
    (43, "unsupported_for_message_format"),
];

/// `Kayrock.KafkaSchemaMetadata.error_code_to_error/1` (kayrock v0.2.0,
/// `lib/generated/kafka_schema_metadata.ex`), codes -1 to 71, sorted by code.
const KAYROCK: &[(i16, &str)] = &[
    (-1, "unknown_server_error"),
    (0, "no_error"),
    (1, "offset_out_of_range"),
    (2, "corrupt_message"),
    (3, "unknown_topic_or_partition"),
    (4, "invalid_fetch_size"),
    (5, "leader_not_available"),
    (6, "not_leader_for_partition"),
    (7, "request_timed_out"),
    (8, "broker_not_available"),
    (9, "replica_not_available"),
    (10, "message_too_large"),
    (11, "stale_controller_epoch"),
    (12, "offset_metadata_too_large"),
    (13, "network_exception"),
    (14, "coordinator_load_in_progress"),
    (15, "coordinator_not_available"),
    (16, "not_coordinator"),
    (17, "invalid_topic_exception"),
    (18, "record_list_too_large"),
    (19, "not_enough_replicas"),
    (20, "not_enough_replicas_after_append"),
    (21, "invalid_required_acks"),
    (22, "illegal_generation"),
    (23, "inconsistent_group_protocol"),
    (24, "invalid_group_id"),
    (25, "unknown_member_id"),
    (26, "invalid_session_timeout"),
    (27, "rebalance_in_progress"),
    (28, "invalid_commit_offset_size"),
    (29, "topic_authorization_failed"),
    (30, "group_authorization_failed"),
    (31, "cluster_authorization_failed"),
    (32, "invalid_timestamp"),
    (33, "unsupported_sasl_mechanism"),
    (34, "illegal_sasl_state"),
    (35, "unsupported_version"),
    (36, "topic_already_exists"),
    (37, "invalid_partitions"),
    (38, "invalid_replication_factor"),
    (39, "invalid_replica_assignment"),
    (40, "invalid_config"),
    (41, "not_controller"),
    (42, "invalid_request"),
    (43, "unsupported_for_message_format"),
    (44, "policy_violation"),
    (45, "out_of_order_sequence_number"),
    (46, "duplicate_sequence_number"),
    (47, "invalid_producer_epoch"),
    (48, "invalid_txn_state"),
    (49, "invalid_producer_id_mapping"),
    (50, "invalid_transaction_timeout"),
    (51, "concurrent_transactions"),
    (52, "transaction_coordinator_fenced"),
    (53, "transactional_id_authorization_failed"),
    (54, "security_disabled"),
    (55, "operation_not_attempted"),
    (56, "kafka_storage_error"),
    (57, "log_dir_not_found"),
    (58, "sasl_authentication_failed"),
    (59, "unknown_producer_id"),
    (60, "reassignment_in_progress"),
    (61, "delegation_token_auth_disabled"),
    (62, "delegation_token_not_found"),
    (63, "delegation_token_owner_mismatch"),
    (64, "delegation_token_request_not_allowed"),
    (65, "delegation_token_authorization_failed"),
    (66, "delegation_token_expired"),
    (67, "invalid_principal_type"),
    (68, "non_empty_group"),
    (69, "group_id_not_found"),
    (70, "fetch_session_id_not_found"),
    (71, "invalid_fetch_session_epoch"),
];

/// The name `table` (sorted by code) gives `code`, if any.
fn lookup(table: &'static [(i16, &'static str)], code: i16) -> Option<&'static str> {
    table
        .binary_search_by_key(&code, |&(c, _)| c)
        .ok()
        .map(|i| table[i].1)
}

/// An error code as KafkaEx names it: an atom-like name, or the raw integer where KafkaEx's
/// table has none.
///
/// Two atoms are equal when both their code and their name are (the same code named by the two
/// tables gives two different atoms where the tables differ). Comparing with a `&str` compares
/// the name only, and an atom without a name equals no string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ErrorAtom {
    /// The Kafka error code.
    code: i16,
    /// The atom's name without the colon, `None` where KafkaEx keeps the integer.
    name: Option<&'static str>,
}

impl ErrorAtom {
    /// Code 0, `no_error`, which both tables name alike.
    pub const NO_ERROR: ErrorAtom = ErrorAtom {
        code: 0,
        name: Some("no_error"),
    };

    /// `code` as `KafkaEx.Protocol.error/1` names it: named for -1 and 0 to 43 except 13, the
    /// integer for every other code.
    pub fn legacy(code: i16) -> ErrorAtom {
        ErrorAtom {
            code,
            name: lookup(LEGACY, code),
        }
    }

    /// `code` as `Kayrock.ErrorCode.code_to_atom/1` names it: named for -1 to 71.
    ///
    /// Any other code has no name here (Kayrock returns the atom `:unknown` for it) and, as in
    /// Kayrock, a warning is logged.
    pub fn kayrock(code: i16) -> ErrorAtom {
        let name = lookup(KAYROCK, code);
        if name.is_none() {
            tracing::warn!(code, "unknown error code");
        }
        ErrorAtom { code, name }
    }

    /// The Kafka error code.
    pub fn code(self) -> i16 {
        self.code
    }

    /// The atom's name (without the leading colon), `None` where KafkaEx keeps the integer.
    pub fn name(self) -> Option<&'static str> {
        self.name
    }

    /// Whether the code is 0 (`no_error`).
    pub fn is_ok(self) -> bool {
        self.code == 0
    }
}

impl fmt::Display for ErrorAtom {
    /// The name (`not_coordinator`), or the code (`72`) when there is none.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name {
            Some(name) => f.pad(name),
            None => fmt::Display::fmt(&self.code, f),
        }
    }
}

impl PartialEq<&str> for ErrorAtom {
    /// Whether the atom's name is `other`; an atom without a name equals no string.
    fn eq(&self, other: &&str) -> bool {
        self.name == Some(*other)
    }
}

/// The code of a Kayrock name (`Kayrock.ErrorCode.atom_to_code/1`), `None` for an unknown name
/// (where `atom_to_code!/1` raises).
///
/// The name is written without the colon (`"not_coordinator"`), as [`ErrorAtom::name`] gives it.
/// Only Kayrock's names are known: `kayrock_code("unknown_error")` (a legacy-only name) is `None`.
pub fn kayrock_code(name: &str) -> Option<i16> {
    KAYROCK.iter().find(|&&(_, n)| n == name).map(|&(c, _)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// kafka_ex v0.15.0 `lib/kafka_ex/protocol.ex`, `error/1` and `@error_map`, transcribed
    /// again (not copied from `LEGACY`) so that a typo in either copy fails.
    const EXPECTED_LEGACY: [(i16, &str); 44] = [
        (-1, "unknown_error"),
        (0, "no_error"),
        (1, "offset_out_of_range"),
        (2, "invalid_message"),
        (3, "unknown_topic_or_partition"),
        (4, "invalid_message_size"),
        (5, "leader_not_available"),
        (6, "not_leader_for_partition"),
        (7, "request_timed_out"),
        (8, "broker_not_available"),
        (9, "replica_not_available"),
        (10, "message_size_too_large"),
        (11, "stale_controller_epoch"),
        (12, "offset_metadata_too_large"),
        (14, "offset_loads_in_progress"),
        (15, "consumer_coordinator_not_available"),
        (16, "not_coordinator_for_consumer"),
        (17, "invalid_topic"),
        (18, "record_list_too_large"),
        (19, "not_enough_replicas"),
        (20, "not_enough_replicas_after_append"),
        (21, "invalid_required_acks"),
        (22, "illegal_generation"),
        (23, "inconsistent_group_protocol"),
        (24, "invalid_group_id"),
        (25, "unknown_member_id"),
        (26, "invalid_session_timeout"),
        (27, "rebalance_in_progress"),
        (28, "invalid_commit_offset"),
        (29, "topic_authorization_failed"),
        (30, "group_authorization_failed"),
        (31, "cluster_authorization_failed"),
        (32, "invalid_timestamp"),
        (33, "unsupported_sasl_mechanism"),
        (34, "illegal_sasl_state"),
        (35, "unsupported_version"),
        (36, "topic_already_exists"),
        (37, "invalid_partitions"),
        (38, "invalid_replication_factor"),
        (39, "invalid_replica_assignment"),
        (40, "invalid_config"),
        (41, "not_controller"),
        (42, "invalid_request"),
        (43, "unsupported_for_message_format"),
    ];

    /// kayrock v0.2.0 `lib/generated/kafka_schema_metadata.ex`, `error_code_to_error/1`,
    /// transcribed again (not copied from `KAYROCK`), index = code + 1.
    const EXPECTED_KAYROCK: [&str; 73] = [
        "unknown_server_error",
        "no_error",
        "offset_out_of_range",
        "corrupt_message",
        "unknown_topic_or_partition",
        "invalid_fetch_size",
        "leader_not_available",
        "not_leader_for_partition",
        "request_timed_out",
        "broker_not_available",
        "replica_not_available",
        "message_too_large",
        "stale_controller_epoch",
        "offset_metadata_too_large",
        "network_exception",
        "coordinator_load_in_progress",
        "coordinator_not_available",
        "not_coordinator",
        "invalid_topic_exception",
        "record_list_too_large",
        "not_enough_replicas",
        "not_enough_replicas_after_append",
        "invalid_required_acks",
        "illegal_generation",
        "inconsistent_group_protocol",
        "invalid_group_id",
        "unknown_member_id",
        "invalid_session_timeout",
        "rebalance_in_progress",
        "invalid_commit_offset_size",
        "topic_authorization_failed",
        "group_authorization_failed",
        "cluster_authorization_failed",
        "invalid_timestamp",
        "unsupported_sasl_mechanism",
        "illegal_sasl_state",
        "unsupported_version",
        "topic_already_exists",
        "invalid_partitions",
        "invalid_replication_factor",
        "invalid_replica_assignment",
        "invalid_config",
        "not_controller",
        "invalid_request",
        "unsupported_for_message_format",
        "policy_violation",
        "out_of_order_sequence_number",
        "duplicate_sequence_number",
        "invalid_producer_epoch",
        "invalid_txn_state",
        "invalid_producer_id_mapping",
        "invalid_transaction_timeout",
        "concurrent_transactions",
        "transaction_coordinator_fenced",
        "transactional_id_authorization_failed",
        "security_disabled",
        "operation_not_attempted",
        "kafka_storage_error",
        "log_dir_not_found",
        "sasl_authentication_failed",
        "unknown_producer_id",
        "reassignment_in_progress",
        "delegation_token_auth_disabled",
        "delegation_token_not_found",
        "delegation_token_owner_mismatch",
        "delegation_token_request_not_allowed",
        "delegation_token_authorization_failed",
        "delegation_token_expired",
        "invalid_principal_type",
        "non_empty_group",
        "group_id_not_found",
        "fetch_session_id_not_found",
        "invalid_fetch_session_epoch",
    ];

    /// Codes outside both tables' ranges.
    const OUT_OF_RANGE: [i16; 8] = [-32768, -100, -2, 72, 73, 100, 1000, 32767];

    fn expected_legacy(code: i16) -> Option<&'static str> {
        EXPECTED_LEGACY
            .iter()
            .find(|&&(c, _)| c == code)
            .map(|&(_, n)| n)
    }

    #[test]
    fn legacy_names_every_code_as_kafka_ex_does() {
        for code in -1..=71 {
            let atom = ErrorAtom::legacy(code);
            assert_eq!(atom.code(), code);
            assert_eq!(atom.name(), expected_legacy(code), "legacy code {code}");
        }
        // Named: -1 and 0..=43 except 13, i.e. 44 codes.
        let named = (-1..=71)
            .filter(|&c| ErrorAtom::legacy(c).name().is_some())
            .count();
        assert_eq!(named, 44);
        for code in [13, 44, 50, 71] {
            assert_eq!(ErrorAtom::legacy(code).name(), None, "legacy code {code}");
        }
    }

    #[test]
    fn kayrock_names_every_code_as_kayrock_does() {
        for code in -1..=71i16 {
            let atom = ErrorAtom::kayrock(code);
            assert_eq!(atom.code(), code);
            let expected = EXPECTED_KAYROCK[usize::try_from(code + 1).unwrap()];
            assert_eq!(atom.name(), Some(expected), "kayrock code {code}");
            assert_eq!(atom, expected);
        }
    }

    #[test]
    fn codes_out_of_range_have_no_name_in_either_table() {
        for code in OUT_OF_RANGE {
            for atom in [ErrorAtom::legacy(code), ErrorAtom::kayrock(code)] {
                assert_eq!(atom.code(), code);
                assert_eq!(atom.name(), None, "code {code}");
                assert_eq!(atom.to_string(), code.to_string());
                assert!(!atom.is_ok());
            }
        }
    }

    #[test]
    fn the_documented_differences() {
        let differences = [
            (-1, "unknown_error", "unknown_server_error"),
            (2, "invalid_message", "corrupt_message"),
            (4, "invalid_message_size", "invalid_fetch_size"),
            (10, "message_size_too_large", "message_too_large"),
            (
                14,
                "offset_loads_in_progress",
                "coordinator_load_in_progress",
            ),
            (
                15,
                "consumer_coordinator_not_available",
                "coordinator_not_available",
            ),
            (16, "not_coordinator_for_consumer", "not_coordinator"),
            (17, "invalid_topic", "invalid_topic_exception"),
            (28, "invalid_commit_offset", "invalid_commit_offset_size"),
        ];
        for (code, legacy, kayrock) in differences {
            assert_eq!(ErrorAtom::legacy(code), legacy);
            assert_eq!(ErrorAtom::kayrock(code), kayrock);
            assert_ne!(ErrorAtom::legacy(code), ErrorAtom::kayrock(code));
        }
        // Legacy has no 13 and stops at 43; Kayrock names both.
        assert_eq!(ErrorAtom::legacy(13).name(), None);
        assert_eq!(ErrorAtom::kayrock(13), "network_exception");
        assert_eq!(ErrorAtom::legacy(43), "unsupported_for_message_format");
        assert_eq!(ErrorAtom::legacy(44).name(), None);
        assert_eq!(ErrorAtom::kayrock(44), "policy_violation");

        // Every other code from 0 to 43 has the same name in both.
        let listed: Vec<i16> = differences.iter().map(|&(c, _, _)| c).collect();
        for code in (0..=43).filter(|c| *c != 13 && !listed.contains(c)) {
            assert_eq!(
                ErrorAtom::legacy(code),
                ErrorAtom::kayrock(code),
                "code {code}"
            );
        }
    }

    #[test]
    fn no_error_is_code_zero_in_both_tables() {
        assert_eq!(ErrorAtom::NO_ERROR.code(), 0);
        assert_eq!(ErrorAtom::NO_ERROR, "no_error");
        assert_eq!(ErrorAtom::legacy(0), ErrorAtom::NO_ERROR);
        assert_eq!(ErrorAtom::kayrock(0), ErrorAtom::NO_ERROR);
        assert!(ErrorAtom::NO_ERROR.is_ok());
        for code in [-1, 1, 13, 16, 72] {
            assert!(!ErrorAtom::legacy(code).is_ok());
            assert!(!ErrorAtom::kayrock(code).is_ok());
        }
    }

    #[test]
    fn display_is_the_name_or_the_code() {
        assert_eq!(ErrorAtom::NO_ERROR.to_string(), "no_error");
        assert_eq!(ErrorAtom::legacy(-1).to_string(), "unknown_error");
        assert_eq!(ErrorAtom::kayrock(-1).to_string(), "unknown_server_error");
        assert_eq!(ErrorAtom::legacy(13).to_string(), "13");
        assert_eq!(ErrorAtom::legacy(58).to_string(), "58");
        assert_eq!(
            ErrorAtom::kayrock(58).to_string(),
            "sasl_authentication_failed"
        );
        assert_eq!(ErrorAtom::kayrock(-2).to_string(), "-2");
        // Width and alignment apply to either form.
        assert_eq!(format!("{:>6}|", ErrorAtom::legacy(13)), "    13|");
        assert_eq!(format!("{:<9}|", ErrorAtom::NO_ERROR), "no_error |");
    }

    #[test]
    fn comparing_with_a_str_compares_the_name() {
        assert_eq!(ErrorAtom::kayrock(16), "not_coordinator");
        assert_ne!(ErrorAtom::kayrock(16), "not_coordinator_for_consumer");
        // An unnamed code equals no string, not even its digits.
        assert_ne!(ErrorAtom::legacy(13), "13");
        assert_ne!(ErrorAtom::legacy(13), "");
    }

    #[test]
    fn kayrock_code_round_trips_every_named_code() {
        for code in -1..=71 {
            let name = ErrorAtom::kayrock(code).name().unwrap();
            assert_eq!(kayrock_code(name), Some(code), "{name}");
        }
        for (i, name) in EXPECTED_KAYROCK.iter().enumerate() {
            assert_eq!(kayrock_code(name), Some(i as i16 - 1), "{name}");
        }
    }

    #[test]
    fn kayrock_code_knows_only_kayrock_names() {
        for name in [
            "unknown_error",
            "not_coordinator_for_consumer",
            "invalid_topic",
            "unknown",
            "",
            ":no_error",
            "NO_ERROR",
        ] {
            assert_eq!(kayrock_code(name), None, "{name:?}");
        }
        // Names the two tables share map to the same code.
        assert_eq!(kayrock_code("no_error"), Some(0));
        assert_eq!(kayrock_code("rebalance_in_progress"), Some(27));
    }

    #[test]
    fn tables_are_sorted_with_unique_codes_and_names() {
        // lookup() binary-searches, and kayrock_code() needs unique names to be a reverse.
        for table in [LEGACY, KAYROCK] {
            assert!(table.windows(2).all(|w| w[0].0 < w[1].0));
            let mut names: Vec<&str> = table.iter().map(|&(_, n)| n).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), table.len());
        }
        assert_eq!(LEGACY.len(), 44);
        assert_eq!(KAYROCK.len(), 73);
    }
}
