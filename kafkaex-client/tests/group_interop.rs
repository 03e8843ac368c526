//! Our group consumer and the Java consumer (kafka-clients, `GroupMember` in `interop/java`)
//! as members of one group, on the KRaft broker: for each of `range`, `roundrobin` and
//! `cooperative-sticky`, once with the Java member joining first (it leads the group: it runs
//! the assignor, for us too) and once with ours first (ours leads, and assigns Java's
//! partitions):
//!
//! - both get partitions, none is owned by both, none by neither; the split is the one Java's
//!   assignor makes (range: the member with the smaller id gets partitions 0-2; roundrobin: it
//!   gets 0, 2, 4), the first member gave partitions up the way its protocol says (eager: all
//!   six, once; cooperative: three, once), and the leader is the one expected (Java reports
//!   when it runs the assignor, and then what it gave to whom);
//! - records produced after both have partitions are read exactly once across the two, each by
//!   its partition's owner, and both members' commits reach the log end;
//! - `kafka-consumer-groups --describe` (the broker distribution's tool) shows both members,
//!   which one owns each partition, our client id, and the committed offsets;
//! - when the Java member closes, ours takes every partition over well before the session
//!   timeout (LeaveGroup, and with Java first ours becomes the leader).
//!
//! The Java program is built by `cargo xtask interop build`; these tests skip loudly without
//! `KAFKAEX_INTEROP` (and the tool part without the Kafka distribution).

mod common;
mod kafka_tools;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write as _};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{create_topic, java, unique, WAIT};
use kafka_tools::KafkaTools;
use kafkaex_client::consumer::{OffsetReset, TopicPartition};
use kafkaex_client::group::assignor::assignor_by_name;
use kafkaex_client::group::{GroupConsumer, GroupEvent};
use kafkaex_client::producer::ProducerRecord;
use kafkaex_client::Client;
use kafkaex_testkit::provider::{test_brokers, BrokerProfile};
use tokio::sync::oneshot;

const PARTITIONS: i32 = 6;
/// Records per partition produced once both members have partitions.
const PER_PARTITION: i64 = 10;
const SESSION: Duration = Duration::from_secs(10);
/// Our client id, which the tool shows beside our member.
const OUR_CLIENT_ID: &str = "kafkaex-group-interop";
/// The Java member's (`GroupMember` sets it).
const JAVA_CLIENT_ID: &str = "java-group-member";

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition::new(topic, partition)
}

/// `topic-p` as the Java program prints it (topic names contain `-` too).
fn parse_tp(s: &str) -> TopicPartition {
    let (topic, p) = s.rsplit_once('-').unwrap_or_else(|| panic!("{s:?}"));
    tp(topic, p.parse().unwrap_or_else(|_| panic!("{s:?}")))
}

fn parse_tps(rest: Option<&str>) -> Vec<TopicPartition> {
    rest.map(|r| r.split(',').map(parse_tp).collect())
        .unwrap_or_default()
}

/// What the Java member has printed.
#[derive(Default, Debug)]
struct JavaSeen {
    member_id: Option<String>,
    owned: BTreeSet<TopicPartition>,
    /// The non-empty revocations, in order.
    revoked: Vec<Vec<TopicPartition>>,
    lost: Vec<Vec<TopicPartition>>,
    records: Vec<(i32, i64)>,
    committed: BTreeMap<TopicPartition, i64>,
    /// One per time it ran the assignor (it led the group): member id -> partitions.
    plans: Vec<BTreeMap<String, BTreeSet<TopicPartition>>>,
    closed: bool,
    /// Everything it printed, for failure messages.
    transcript: Vec<String>,
}

impl JavaSeen {
    fn line(&mut self, line: &str) {
        self.transcript.push(line.to_owned());
        let (what, rest) = match line.split_once(' ') {
            Some((w, r)) => (w, Some(r)),
            None => (line, None),
        };
        match what {
            "MEMBER" => {
                let id = rest.and_then(|r| r.split(' ').next()).expect("MEMBER id");
                self.member_id = Some(id.to_owned());
            }
            "LEADER" => self.plans.push(BTreeMap::new()),
            "PLAN" => {
                let rest = rest.expect("PLAN member");
                let (member, tps) = match rest.split_once(' ') {
                    Some((m, t)) => (m, Some(t)),
                    None => (rest, None),
                };
                self.plans
                    .last_mut()
                    .expect("PLAN after LEADER")
                    .insert(member.to_owned(), parse_tps(tps).into_iter().collect());
            }
            "ASSIGNED" => self.owned.extend(parse_tps(rest)),
            "REVOKED" | "LOST" => {
                let tps = parse_tps(rest);
                for t in &tps {
                    self.owned.remove(t);
                }
                if !tps.is_empty() {
                    if what == "LOST" {
                        self.lost.push(tps);
                    } else {
                        self.revoked.push(tps);
                    }
                }
            }
            "RECORD" => {
                let mut f = rest.expect("RECORD fields").split(' ');
                let p = f.next().and_then(|p| p.parse().ok()).expect("partition");
                let o = f.next().and_then(|o| o.parse().ok()).expect("offset");
                self.records.push((p, o));
            }
            "COMMITTED" => {
                for kv in rest.expect("COMMITTED offsets").split(',') {
                    let (t, o) = kv.split_once('=').expect("TOPIC-P=OFFSET");
                    self.committed
                        .insert(parse_tp(t), o.parse().expect("offset"));
                }
            }
            "CLOSED" => self.closed = true,
            // COMMIT_FAILED (a commit during a rebalance) is only kept in the transcript.
            _ => {}
        }
    }
}

/// The Java `GroupMember`, a child process: its stdout is parsed on a thread as it comes.
struct JavaMember {
    child: Child,
    stdin: Option<ChildStdin>,
    seen: Arc<Mutex<JavaSeen>>,
    stderr: Arc<Mutex<String>>,
}

impl JavaMember {
    fn start(bootstrap: &str, group: &str, topic: &str, strategy: &str) -> JavaMember {
        let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/interop");
        let jar = out.join("kafkaex-interop.jar");
        assert!(
            jar.exists(),
            "{} is missing: run `cargo xtask interop build` before the tests",
            jar.display()
        );
        let mut child = Command::new("java")
            .arg("-cp")
            .arg(format!("{}:{}", jar.display(), out.join("lib/*").display()))
            .arg("io.kafkaex.interop.GroupMember")
            .args([bootstrap, group, topic, strategy])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting java");
        let seen = Arc::new(Mutex::new(JavaSeen::default()));
        let stdout = child.stdout.take().expect("stdout");
        let s = Arc::clone(&seen);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                s.lock().unwrap().line(line.trim_end());
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let err = child.stderr.take().expect("stderr");
        let e = Arc::clone(&stderr);
        std::thread::spawn(move || {
            // Line by line, so that what came before a hang is there to report.
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { return };
                let mut e = e.lock().unwrap();
                e.push_str(&line);
                e.push('\n');
            }
        });
        let stdin = child.stdin.take();
        JavaMember {
            child,
            stdin,
            seen,
            stderr,
        }
    }

    fn owned(&self) -> BTreeSet<TopicPartition> {
        self.seen.lock().unwrap().owned.clone()
    }

    fn member_id(&self) -> Option<String> {
        self.seen.lock().unwrap().member_id.clone()
    }

    /// What it printed and wrote to stderr, for a failure message.
    fn report(&self) -> String {
        format!(
            "java stdout:\n{}\njava stderr:\n{}",
            self.seen.lock().unwrap().transcript.join("\n"),
            self.stderr.lock().unwrap()
        )
    }

    /// Sends `stop` and waits for a clean exit (committed, closed: LeaveGroup).
    async fn stop(mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.write_all(b"stop\n");
            let _ = stdin.flush();
        }
        let give_up = tokio::time::Instant::now() + WAIT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("waiting for java") {
                break status;
            }
            assert!(
                tokio::time::Instant::now() < give_up,
                "GroupMember did not exit after stop\n{}",
                self.report()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        // The stdout thread may still be reading the last lines.
        let give_up = tokio::time::Instant::now() + Duration::from_secs(5);
        while !self.seen.lock().unwrap().closed && tokio::time::Instant::now() < give_up {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(
            status.success() && self.seen.lock().unwrap().closed,
            "GroupMember exited with {status} without closing cleanly\n{}",
            self.report()
        );
    }
}

impl Drop for JavaMember {
    fn drop(&mut self) {
        // A failed test must not leave the JVM in the group.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What our running member has seen.
#[derive(Default)]
struct Seen {
    owned: BTreeSet<TopicPartition>,
    records: Vec<(i32, i64)>,
    revoked: Vec<Vec<TopicPartition>>,
    lost: Vec<Vec<TopicPartition>>,
    errors: Vec<String>,
}

/// Our member, driven by its own task: it marks and commits every batch (awaited), and commits
/// what it marked before acknowledging a revocation.
struct Running {
    seen: Arc<Mutex<Seen>>,
    member_id: Arc<Mutex<String>>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    fn start(mut consumer: GroupConsumer) -> Running {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let member_id = Arc::new(Mutex::new(String::new()));
        let (stop, mut stopped) = oneshot::channel::<()>();
        let (s, id) = (Arc::clone(&seen), Arc::clone(&member_id));
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut stopped => {
                        consumer.close().await;
                        return;
                    }
                    event = consumer.next() => {
                        let Some(event) = event else { return };
                        *id.lock().unwrap() = consumer.member_id();
                        match event {
                            Ok(GroupEvent::Records(batch)) => {
                                s.lock().unwrap().records.extend(batch.iter().map(|r| (r.partition, r.offset)));
                                consumer.mark(&batch);
                                if let Err(e) = consumer.commit_marked().await {
                                    s.lock().unwrap().errors.push(format!("commit: {e}"));
                                }
                            }
                            Ok(GroupEvent::Assigned(tps)) => s.lock().unwrap().owned.extend(tps),
                            Ok(GroupEvent::Revoking(r)) => {
                                if let Err(e) = consumer.commit_marked().await {
                                    s.lock().unwrap().errors.push(format!("commit on revoke: {e}"));
                                }
                                {
                                    let mut g = s.lock().unwrap();
                                    for tp in &r.partitions {
                                        g.owned.remove(tp);
                                    }
                                    g.revoked.push(r.partitions.clone());
                                }
                                r.ack();
                            }
                            Ok(GroupEvent::Lost(tps)) => {
                                let mut g = s.lock().unwrap();
                                for tp in &tps {
                                    g.owned.remove(tp);
                                }
                                g.lost.push(tps);
                            }
                            Ok(_) => {}
                            Err(e) => s.lock().unwrap().errors.push(e.to_string()),
                        }
                    }
                }
            }
        });
        Running {
            seen,
            member_id,
            stop: Some(stop),
            task,
        }
    }

    fn owned(&self) -> BTreeSet<TopicPartition> {
        self.seen.lock().unwrap().owned.clone()
    }

    fn member_id(&self) -> String {
        self.member_id.lock().unwrap().clone()
    }

    async fn close(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// Polls `check` every 50 ms until it returns `Ok`; panics with its last `Err` after `within`.
async fn wait_for(within: Duration, mut check: impl FnMut() -> Result<(), String>) {
    let give_up = tokio::time::Instant::now() + within;
    loop {
        match check() {
            Ok(()) => return,
            Err(why) => assert!(
                tokio::time::Instant::now() < give_up,
                "not within {within:?}: {why}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Both own partitions, none both, every one of them someone.
fn shared(
    java: &BTreeSet<TopicPartition>,
    ours: &BTreeSet<TopicPartition>,
    all: &BTreeSet<TopicPartition>,
) -> Result<(), String> {
    let union: BTreeSet<TopicPartition> = java.union(ours).cloned().collect();
    if java.is_empty() || ours.is_empty() || !java.is_disjoint(ours) || union != *all {
        return Err(format!("java owns {java:?}, ours {ours:?}"));
    }
    Ok(())
}

/// The rows of a `kafka-consumer-groups` table for `group`, as column name -> value (every
/// column is filled in the rows this test reads: both members are active and have client ids).
fn table(out: &str, group: &str) -> Vec<BTreeMap<String, String>> {
    let mut header: Option<Vec<String>> = None;
    let mut rows = Vec::new();
    for line in out.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.first() == Some(&"GROUP") {
            header = Some(cols.iter().map(|c| (*c).to_owned()).collect());
            continue;
        }
        let Some(h) = &header else { continue };
        if cols.first() != Some(&group) {
            continue;
        }
        rows.push(
            h.iter()
                .cloned()
                .zip(cols.iter().map(|c| (*c).to_owned()))
                .collect(),
        );
    }
    rows
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum First {
    Java,
    Ours,
}

async fn group_with_java(test: &str, strategy: &str, first: First) {
    let Some(brokers) = test_brokers(BrokerProfile::Kraft, test).await else {
        return;
    };
    if std::env::var_os("KAFKAEX_INTEROP").is_none() {
        // Says so loudly, the same way the other Java tests do.
        java(test, "GroupMember", &[]);
        return;
    }
    let bootstrap = brokers.bootstrap.join(",");
    // The test's own client (topic, producer, offsets) and one for our member, so that its
    // fetches waiting at the log end hold up nothing of the test's.
    let admin = Client::builder()
        .bootstrap(&brokers.bootstrap)
        .build()
        .await
        .expect("client");
    let ours_client = Client::builder()
        .bootstrap(&brokers.bootstrap)
        .client_id(OUR_CLIENT_ID)
        .build()
        .await
        .expect("client");
    let topic = unique(&format!("gi-{strategy}"));
    create_topic(&admin, &topic, PARTITIONS, 1, &[]).await;
    let group = unique(&format!("gi-{strategy}"));
    let all: BTreeSet<TopicPartition> = (0..PARTITIONS).map(|p| tp(&topic, p)).collect();
    let assignor = assignor_by_name(strategy).expect("one of Java's assignors");
    let start_ours = || {
        Running::start(
            ours_client
                .group_consumer(group.as_str())
                .subscribe([topic.as_str()])
                .assignors(vec![Arc::clone(&assignor)])
                .session_timeout(SESSION)
                .heartbeat_interval(Duration::from_millis(500))
                .rebalance_timeout(Duration::from_secs(30))
                .auto_commit(None)
                .auto_offset_reset(OffsetReset::Earliest)
                .build()
                .expect("group consumer"),
        )
    };

    // The first member alone gets everything; it is the group's leader.
    let (java, ours) = match first {
        First::Java => {
            let java = JavaMember::start(&bootstrap, &group, &topic, strategy);
            wait_for(WAIT, || {
                (java.owned() == all)
                    .then_some(())
                    .ok_or_else(|| java.report())
            })
            .await;
            (java, start_ours())
        }
        First::Ours => {
            let ours = start_ours();
            wait_for(WAIT, || {
                (ours.owned() == all)
                    .then_some(())
                    .ok_or_else(|| format!("ours owns {:?}", ours.owned()))
            })
            .await;
            (
                JavaMember::start(&bootstrap, &group, &topic, strategy),
                ours,
            )
        }
    };
    wait_for(WAIT, || {
        shared(&java.owned(), &ours.owned(), &all)
            .and_then(|()| {
                java.member_id()
                    .map(drop)
                    .ok_or_else(|| "no member id".into())
            })
            .map_err(|e| format!("{e}\n{}", java.report()))
    })
    .await;
    let java_owned = java.owned();
    let ours_owned = ours.owned();
    let java_id = java.member_id().expect("the Java member printed its id");
    let ours_id = ours.member_id();
    assert!(!ours_id.is_empty());
    let report = java.report();

    // The split is Java's: three each; range gives the member with the smaller id the first
    // three partitions, roundrobin the even ones (dynamic members are ordered by member id).
    assert_eq!(java_owned.len(), 3, "{java_owned:?} {ours_owned:?}");
    let smaller = if java_id < ours_id {
        &java_owned
    } else {
        &ours_owned
    };
    let parts: Vec<i32> = smaller.iter().map(|t| t.partition).collect();
    match strategy {
        "range" => assert_eq!(parts, [0, 1, 2], "{java_id} {ours_id}"),
        "roundrobin" => assert_eq!(parts, [0, 2, 4], "{java_id} {ours_id}"),
        _ => {}
    }
    // The first member gave up partitions once: eager protocols all it had before rejoining,
    // cooperative only the three the second member got (it kept the others throughout).
    let first_revoked = match first {
        First::Java => java.seen.lock().unwrap().revoked.clone(),
        First::Ours => ours.seen.lock().unwrap().revoked.clone(),
    };
    let expected_revoked: Vec<Vec<TopicPartition>> = if strategy == "cooperative-sticky" {
        let second = match first {
            First::Java => &ours_owned,
            First::Ours => &java_owned,
        };
        vec![second.iter().cloned().collect()]
    } else {
        vec![all.iter().cloned().collect()]
    };
    assert_eq!(
        first_revoked, expected_revoked,
        "the first member's revocations\n{report}"
    );
    // The leader: Java reports each time it runs the assignor.
    let plans = java.seen.lock().unwrap().plans.clone();
    match first {
        First::Java => {
            // Its last plan is the assignment both got.
            let last = plans.last().unwrap_or_else(|| panic!("{report}"));
            let expected: BTreeMap<String, BTreeSet<TopicPartition>> = [
                (java_id.clone(), java_owned.clone()),
                (ours_id.clone(), ours_owned.clone()),
            ]
            .into();
            assert_eq!(*last, expected, "{report}");
        }
        // Ours led every generation Java was in: Java never assigned.
        First::Ours => assert!(plans.is_empty(), "Java led the group\n{report}"),
    }

    // Records produced now are read exactly once, each by its partition's owner.
    let producer = admin.producer().build().await.expect("producer");
    let mut acks = Vec::new();
    for i in 0..PER_PARTITION * i64::from(PARTITIONS) {
        let record = ProducerRecord::new(topic.clone())
            .partition((i % i64::from(PARTITIONS)) as i32)
            .value(format!("v-{i}"));
        acks.push(producer.send(record).await.expect("send"));
    }
    for a in acks {
        a.await.expect("acknowledged");
    }
    producer.close().await;
    let total = (PER_PARTITION * i64::from(PARTITIONS)) as usize;
    let ends: BTreeMap<TopicPartition, i64> =
        all.iter().map(|t| (t.clone(), PER_PARTITION)).collect();
    wait_for(WAIT, || {
        let j = java.seen.lock().unwrap().records.len();
        let o = ours.seen.lock().unwrap().records.len();
        (j + o >= total)
            .then_some(())
            .ok_or_else(|| format!("java read {j}, ours {o}, of {total}"))
    })
    .await;
    // Every commit reached the log end: Java's (as it reports them) and the group's.
    wait_for(WAIT, || {
        let committed = java.seen.lock().unwrap().committed.clone();
        let mine: BTreeMap<TopicPartition, i64> = committed
            .into_iter()
            .filter(|(t, _)| java_owned.contains(t))
            .collect();
        let expected: BTreeMap<TopicPartition, i64> = java_owned
            .iter()
            .map(|t| (t.clone(), PER_PARTITION))
            .collect();
        (mine == expected)
            .then_some(())
            .ok_or_else(|| format!("java committed {mine:?}"))
    })
    .await;
    let give_up = tokio::time::Instant::now() + WAIT;
    loop {
        let committed = admin
            .admin()
            .fetch_offsets(&group, None, &Default::default())
            .await
            .expect("fetch offsets");
        let got: BTreeMap<TopicPartition, i64> = committed
            .iter()
            .filter_map(|(t, r)| Some((t.clone(), r.as_ref().ok()?.as_ref()?.offset)))
            .collect();
        if got == ends {
            break;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "the group's committed offsets {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let java_records = java.seen.lock().unwrap().records.clone();
    let ours_records = ours.seen.lock().unwrap().records.clone();
    let mut read: Vec<(i32, i64)> = java_records.iter().chain(&ours_records).copied().collect();
    read.sort_unstable();
    let produced: Vec<(i32, i64)> = (0..PARTITIONS)
        .flat_map(|p| (0..PER_PARTITION).map(move |o| (p, o)))
        .collect();
    assert_eq!(read, produced, "each record exactly once across both");
    assert!(
        java_records
            .iter()
            .all(|(p, _)| java_owned.contains(&tp(&topic, *p))),
        "java read a partition it did not own: {java_records:?} {java_owned:?}"
    );
    assert!(
        ours_records
            .iter()
            .all(|(p, _)| ours_owned.contains(&tp(&topic, *p))),
        "ours read a partition it did not own: {ours_records:?} {ours_owned:?}"
    );
    // No rebalance since: the same owners.
    assert_eq!(
        (java.owned(), ours.owned()),
        (java_owned.clone(), ours_owned.clone())
    );

    // Kafka's tool: both members, who owns which partition, and the committed offsets.
    if let Some(tools) = KafkaTools::find(test, "4.4.0", &brokers.bootstrap) {
        let out = tools.run(
            "consumer.group.ConsumerGroupCommand",
            &["--describe", "--group", &group],
        );
        let rows = table(&out, &group);
        let mut by_partition = BTreeMap::new();
        for r in &rows {
            assert_eq!(r.get("TOPIC"), Some(&topic), "{out}");
            let p: i32 = r["PARTITION"].parse().expect("partition");
            by_partition.insert(
                p,
                (
                    r["CURRENT-OFFSET"].clone(),
                    r["LOG-END-OFFSET"].clone(),
                    r["CONSUMER-ID"].clone(),
                    r["CLIENT-ID"].clone(),
                ),
            );
        }
        let expected: BTreeMap<i32, (String, String, String, String)> = all
            .iter()
            .map(|t| {
                let (id, client) = if java_owned.contains(t) {
                    (&java_id, JAVA_CLIENT_ID)
                } else {
                    (&ours_id, OUR_CLIENT_ID)
                };
                (
                    t.partition,
                    (
                        PER_PARTITION.to_string(),
                        PER_PARTITION.to_string(),
                        id.clone(),
                        client.to_owned(),
                    ),
                )
            })
            .collect();
        assert_eq!(by_partition, expected, "{out}");
        assert_eq!(rows.len(), PARTITIONS as usize, "{out}");

        // Kafka 4.4's tool shows a classic group's assignment as CURRENT-ASSIGNMENT,
        // `topic:0,1,2` (the epochs and targets are the consumer protocol's, `-` here).
        let out = tools.run(
            "consumer.group.ConsumerGroupCommand",
            &["--describe", "--group", &group, "--members", "--verbose"],
        );
        let members: BTreeMap<String, (String, String)> = table(&out, &group)
            .into_iter()
            .map(|r| {
                let col = |name: &str| {
                    r.get(name)
                        .cloned()
                        .unwrap_or_else(|| panic!("no {name} in a row of\n{out}"))
                };
                (
                    col("CONSUMER-ID"),
                    (col("#PARTITIONS"), col("CURRENT-ASSIGNMENT")),
                )
            })
            .collect();
        let listed = |owned: &BTreeSet<TopicPartition>| {
            let ps: Vec<String> = owned.iter().map(|t| t.partition.to_string()).collect();
            ("3".to_owned(), format!("{topic}:{}", ps.join(",")))
        };
        let expected: BTreeMap<String, (String, String)> = [
            (java_id.clone(), listed(&java_owned)),
            (ours_id.clone(), listed(&ours_owned)),
        ]
        .into();
        assert_eq!(members, expected, "{out}");
    }

    // The Java member closes (LeaveGroup): ours takes everything over at once, well before
    // the session timeout would have ended Java's membership.
    let report = java.report();
    let left = tokio::time::Instant::now();
    java.stop().await;
    wait_for(SESSION - Duration::from_secs(2), || {
        (ours.owned() == all)
            .then_some(())
            .ok_or_else(|| format!("ours owns {:?} after Java left\n{report}", ours.owned()))
    })
    .await;
    assert!(left.elapsed() < SESSION);
    {
        let seen = ours.seen.lock().unwrap();
        assert!(seen.errors.is_empty(), "{:?}", seen.errors);
        assert!(seen.lost.is_empty(), "ours lost {:?}", seen.lost);
    }
    ours.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_with_java_leading() {
    group_with_java("range_with_java_leading", "range", First::Java).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_with_ours_leading() {
    group_with_java("range_with_ours_leading", "range", First::Ours).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roundrobin_with_java_leading() {
    group_with_java("roundrobin_with_java_leading", "roundrobin", First::Java).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roundrobin_with_ours_leading() {
    group_with_java("roundrobin_with_ours_leading", "roundrobin", First::Ours).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooperative_sticky_with_java_leading() {
    group_with_java(
        "cooperative_sticky_with_java_leading",
        "cooperative-sticky",
        First::Java,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooperative_sticky_with_ours_leading() {
    group_with_java(
        "cooperative_sticky_with_ours_leading",
        "cooperative-sticky",
        First::Ours,
    )
    .await;
}
