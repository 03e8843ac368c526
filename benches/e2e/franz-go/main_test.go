package main

import "testing"

func TestBucketsRoundTrip(t *testing.T) {
	for _, v := range []uint64{0, 1, 255, 256, 257, 1000, 123456, 1 << 30} {
		b := bucket(v)
		if up := upper(b); uint64(up) < v {
			t.Fatalf("value %d: bucket %d upper %d below it", v, b, up)
		}
		if b > 0 && uint64(upper(b-1)) >= v {
			t.Fatalf("value %d: previous bucket's upper %d not below it", v, upper(b-1))
		}
		if up := upper(b); v >= 256 && float64(up-int64(v)) > 0.008*float64(v) {
			t.Fatalf("value %d: upper %d more than 0.8%% off", v, up)
		}
	}
}

func TestQuantile(t *testing.T) {
	var h histogram
	for i := int64(1); i <= 100; i++ {
		h.record(i)
	}
	if got := h.quantile(0.5); got != 50 {
		t.Fatalf("p50 = %d", got)
	}
	if got := h.quantile(0.99); got != 99 {
		t.Fatalf("p99 = %d", got)
	}
}

func TestValue(t *testing.T) {
	v := make([]byte, 30)
	fillValue(v, 1234)
	// The same bytes as the Rust arm's and the harness's (xtask/src/bench/payload.rs).
	if got := string(v); got != want1234 {
		t.Fatalf("value %q", got)
	}
}

// want1234 is the value of record 1234 at 30 bytes, as the harness computes it.
const want1234 = "LCYVBMMFKXGZCFRVKLKZUQIZZEAEIN"
