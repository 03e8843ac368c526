// Command e2e-arm-franz-go is the franz-go arm of `cargo xtask bench e2e`.
//
// It follows the arm contract of benches/README.md:
//
//	e2e-arm-franz-go produce --bootstrap H:P --topic T --records N --record-size 100 --acks 1|all \
//	    --compression none|lz4 --linger-ms L --batch-bytes B [--idempotent true|false]
//	e2e-arm-franz-go consume --bootstrap H:P --topic T --records N
//
// and prints one JSON line on stdout at the end. The producer calls kgo's Produce with one
// shared promise; each record's Timestamp is its send time, so the promise measures send -> ack
// latency from the record it is handed. The consumer is a direct (groupless) kgo consumer of
// every partition from the start.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"math/bits"
	"os"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// stall: give up when no record arrives (consumer) or acknowledgements stop (producer) this long.
const stall = 60 * time.Second

// bufferBytes is the producer buffer every arm uses: 32 MiB, Java's buffer.memory default.
const bufferBytes = 32 << 20

func main() {
	if len(os.Args) < 2 {
		fail(errors.New("usage: e2e-arm-franz-go produce|consume --bootstrap H:P --topic T --records N ..."))
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	bootstrap := fs.String("bootstrap", "", "HOST:PORT")
	topic := fs.String("topic", "", "topic")
	records := fs.Int64("records", 0, "records to produce or consume")
	size := fs.Int("record-size", 100, "value bytes")
	acks := fs.String("acks", "all", "1 or all")
	compression := fs.String("compression", "none", "none or lz4")
	lingerMs := fs.Int("linger-ms", 5, "linger")
	batchBytes := fs.Int("batch-bytes", 1000000, "maximum record batch bytes")
	idempotent := fs.String("idempotent", "", "true or false (default: true with acks=all)")
	if err := fs.Parse(os.Args[2:]); err != nil {
		fail(err)
	}
	if *bootstrap == "" || *topic == "" || *records <= 0 {
		fail(errors.New("--bootstrap, --topic and --records are required"))
	}
	var err error
	switch os.Args[1] {
	case "produce":
		err = produce(*bootstrap, *topic, *records, *size, *acks, *compression, *lingerMs, *batchBytes, *idempotent)
	case "consume":
		err = consume(*bootstrap, *topic, *records)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "e2e-arm-franz-go: %v\n", err)
	os.Exit(1)
}

// fillValue writes the contract's value of record index (benches/README.md): letters A-Z drawn
// from splitmix64 seeded with the index, one per byte of its output, little-endian. Random
// letters, like Java's ProducerPerformance, so that LZ4 meets the same (low) redundancy in
// every arm.
func fillValue(value []byte, index int64) {
	state := uint64(index)
	for j := 0; j < len(value); j += 8 {
		x := splitmix64(&state)
		for k := 0; k < 8 && j+k < len(value); k++ {
			value[j+k] = 'A' + byte(x>>(8*k))%26
		}
	}
}

func splitmix64(state *uint64) uint64 {
	*state += 0x9E3779B97F4A7C15
	z := *state
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

func produce(bootstrap, topic string, records int64, size int, acks, compression string, lingerMs, batchBytes int, idempotent string) error {
	opts := []kgo.Opt{
		kgo.SeedBrokers(bootstrap),
		kgo.DefaultProduceTopic(topic),
		kgo.ProducerLinger(time.Duration(lingerMs) * time.Millisecond),
		kgo.ProducerBatchMaxBytes(int32(batchBytes)),
		kgo.MaxBufferedBytes(bufferBytes),
		// The default cap of 10000 records would bind long before 32 MiB of 100-byte records.
		kgo.MaxBufferedRecords(10_000_000),
	}
	switch acks {
	case "all", "-1":
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case "1":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()))
	default:
		return fmt.Errorf("--acks %q: 1 or all", acks)
	}
	// franz-go is idempotent by default, which needs acks=all.
	// With idempotence it keeps up to 5 produce requests in flight per broker (Kafka >= 1.0), and
	// refuses the option; without, its default is 1, so ask for the 5 every arm uses.
	if idempotent == "false" || (idempotent == "" && acks == "1") {
		opts = append(opts, kgo.DisableIdempotentWrite(), kgo.MaxProduceRequestsInflightPerBroker(5))
	}
	switch compression {
	case "none":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.NoCompression()))
	case "lz4":
		opts = append(opts, kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	default:
		return fmt.Errorf("--compression %q: none or lz4", compression)
	}

	start := time.Now()
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer client.Close()

	var hist histogram
	var acked, failed, lastAckNs atomic.Int64
	promise := func(r *kgo.Record, err error) {
		now := time.Now()
		if err != nil {
			if failed.Add(1) <= 5 {
				fmt.Fprintf(os.Stderr, "e2e-arm-franz-go: delivery failed: %v\n", err)
			}
		} else {
			hist.record(now.Sub(r.Timestamp).Microseconds())
			acked.Add(1)
		}
		ns := now.Sub(start).Nanoseconds()
		for {
			old := lastAckNs.Load()
			if ns <= old || lastAckNs.CompareAndSwap(old, ns) {
				break
			}
		}
	}
	ctx := context.Background()
	for i := int64(0); i < records; i++ {
		// A fresh value per record: the client keeps it until the promise runs.
		value := make([]byte, size)
		fillValue(value, i)
		// The record's timestamp doubles as its send time (time.Now carries a monotonic reading).
		client.Produce(ctx, &kgo.Record{Value: value, Timestamp: time.Now()}, promise)
	}
	flushCtx, cancel := context.WithTimeout(ctx, stall)
	defer cancel()
	if err := client.Flush(flushCtx); err != nil {
		return fmt.Errorf("flush: %w (%d of %d acknowledged)", err, acked.Load(), records)
	}
	n := acked.Load()
	return emit(map[string]any{
		"records": n,
		"bytes":   n * int64(size),
		"seconds": float64(lastAckNs.Load()) / 1e9,
		"p50_us":  hist.quantile(0.5),
		"p99_us":  hist.quantile(0.99),
		"p999_us": hist.quantile(0.999),
		"max_us":  hist.quantile(1),
		"errors":  failed.Load(),
	})
}

func consume(bootstrap, topic string, records int64) error {
	start := time.Now()
	client, err := kgo.NewClient(
		kgo.SeedBrokers(bootstrap),
		// No group: a direct consumer of every partition, from the start.
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if err != nil {
		return err
	}
	defer client.Close()
	table := crc32.MakeTable(crc32.Castagnoli)
	var count, nbytes, errs int64
	var checksum uint64
	for count < records {
		ctx, cancel := context.WithTimeout(context.Background(), stall)
		fetches := client.PollFetches(ctx)
		cancel()
		if ctx.Err() != nil && fetches.NumRecords() == 0 {
			return fmt.Errorf("read %d of %d records, then nothing for %v", count, records, stall)
		}
		fetches.EachError(func(t string, p int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) {
				return
			}
			errs++
			if errs <= 5 {
				fmt.Fprintf(os.Stderr, "e2e-arm-franz-go: fetch error %s/%d: %v\n", t, p, err)
			}
		})
		fetches.EachRecord(func(r *kgo.Record) {
			// Stop at N, as every consumer arm does (the harness checks the topic holds N).
			if count >= records {
				return
			}
			count++
			nbytes += int64(len(r.Value))
			checksum += uint64(crc32.Checksum(r.Value, table))
		})
	}
	return emit(map[string]any{
		"records":  count,
		"bytes":    nbytes,
		"seconds":  time.Since(start).Seconds(),
		"errors":   errs,
		"checksum": fmt.Sprintf("%016x", checksum),
	})
}

func emit(v map[string]any) error {
	line, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Println(string(line))
	return err
}

// histogram is a log-linear latency histogram in microseconds: exact below 256 us, then 128
// buckets per power of two (under 0.8% error), with lock-free recording (promises may run on
// several goroutines). quantile reports a bucket's upper bound, as HdrHistogram does.
type histogram struct {
	counts [256 + 40*128]atomic.Int64
}

func (h *histogram) record(us int64) {
	if us < 0 {
		us = 0
	}
	h.counts[bucket(uint64(us))].Add(1)
}

func bucket(v uint64) int {
	if v < 256 {
		return int(v)
	}
	exp := bits.Len64(v) - 8 // v >> exp is in [128, 256)
	idx := 256 + (exp-1)*128 + int(v>>exp) - 128
	if idx >= 256+40*128 {
		return 256 + 40*128 - 1
	}
	return idx
}

// upper is the largest value that falls in bucket idx.
func upper(idx int) int64 {
	if idx < 256 {
		return int64(idx)
	}
	exp := (idx-256)/128 + 1
	m := int64((idx-256)%128 + 128)
	return (m+1)<<exp - 1
}

func (h *histogram) quantile(q float64) int64 {
	var total int64
	for i := range h.counts {
		total += h.counts[i].Load()
	}
	if total == 0 {
		return 0
	}
	rank := int64(q*float64(total) + 0.5)
	if rank < 1 {
		rank = 1
	}
	var seen int64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return upper(i)
		}
	}
	return upper(len(h.counts) - 1)
}
