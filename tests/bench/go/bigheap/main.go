// bigheap - the Go twin of tests/bench/bigheap/bigheap.c: the same live
// heap (LIVE_MIB of 64-byte nodes in 65536 lists), the same churn (same
// xorshift64* RNG and steps), the same per-allocation timing, the same
// STATS line. Pauses come from runtime.MemStats.PauseNs (the stop-the-world
// time of each cycle), like gcrt's.
//
//	go run . [LIVE_MIB] [CHURN_X]
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"syscall"
	"time"
	"unsafe"
)

type node struct {
	next    *node
	payload [7]uint64
}

const nlists = 65536

type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	x := r.s
	x ^= x >> 12
	x ^= x << 25
	x ^= x >> 27
	r.s = x
	return x * 0x2545F4914F6CDD1D
}

var sink uint64

func main() {
	liveMiB, churnX := int64(1024), int64(4)
	if len(os.Args) > 1 {
		liveMiB, _ = strconv.ParseInt(os.Args[1], 10, 64)
	}
	if len(os.Args) > 2 {
		churnX, _ = strconv.ParseInt(os.Args[2], 10, 64)
	}
	if liveMiB < 4 || churnX <= 0 {
		fmt.Fprintln(os.Stderr, "usage: bigheap [LIVE_MIB >= 4] [CHURN_X > 0]")
		os.Exit(2)
	}
	nodeSize := int64(unsafe.Sizeof(node{}))
	nlive := liveMiB * 1048576 / nodeSize
	nchurn := churnX * nlive
	r := &rng{42 ^ 0x9E3779B97F4A7C15}

	t0 := time.Now()
	heads := make([]*node, nlists)
	for i := int64(0); i < nlive; i++ {
		l := i % nlists
		n := &node{next: heads[l]}
		for k := range n.payload {
			n.payload[k] = uint64(i) + uint64(k)
		}
		heads[l] = n
	}
	t1 := time.Now()

	var maxWait, sumWait time.Duration
	waits := make([]int64, 0, 1<<16) // only waits >= 10 us, for p99.99
	for i := int64(0); i < nchurn; i++ {
		x := r.next()
		a := time.Now()
		n := new(node)
		w := time.Since(a)
		sumWait += w
		if w > maxWait {
			maxWait = w
		}
		if w >= 10*time.Microsecond {
			waits = append(waits, int64(w))
		}
		if x&7 == 0 {
			l := (x >> 3) % nlists
			old := heads[l]
			n.next = old.next
			for k := range n.payload {
				n.payload[k] = x + uint64(k)
			}
			heads[l] = n
		} else {
			n.payload[0] = x
			sink = n.payload[0]
		}
	}
	t2 := time.Now()

	count := int64(0)
	for l := 0; l < nlists; l++ {
		for n := heads[l]; n != nil; n = n.next {
			count++
		}
	}
	if count != nlive {
		fmt.Fprintf(os.Stderr, "bigheap: %d live nodes, want %d\n", count, nlive)
		os.Exit(1)
	}
	// p99.99 of all waits: the waits under 10 us are not kept, so the
	// quantile is exact only when it is >= 10 us (else printed as < 10).
	rank := int64(float64(nchurn) * 0.9999)
	p9999 := "<10"
	sort.Slice(waits, func(i, j int) bool { return waits[i] < waits[j] })
	if k := int64(len(waits)) - (nchurn - rank); k >= 0 && k < int64(len(waits)) {
		p9999 = fmt.Sprintf("%.1f", float64(waits[k])/1e3)
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	n := ms.NumGC
	if n > 256 {
		n = 256
	}
	pauses := make([]uint64, n)
	var pmax uint64
	for i := uint32(0); i < n; i++ {
		pauses[i] = ms.PauseNs[(ms.NumGC-1-i)%256]
		if pauses[i] > pmax {
			pmax = pauses[i]
		}
	}
	sort.Slice(pauses, func(i, j int) bool { return pauses[i] < pauses[j] })
	var p99 uint64
	if n > 0 {
		k := int(0.99 * float64(n))
		if k >= int(n) {
			k = int(n) - 1
		}
		p99 = pauses[k]
	}
	liveB := float64(nlive*nodeSize + nlists*8)
	fmt.Printf("STATS workload=bigheap runtime=go live_mib=%.1f churn_allocs=%d build_ms=%.1f "+
		"churn_ms=%.1f alloc_wait_max_ms=%.3f alloc_wait_p9999_us=%s alloc_wait_mean_ns=%.1f "+
		"maxrss_mib=%.1f rss_over_live=%.2f gcs=%d pause_max_ms=%.3f pause_p99_ms=%.3f "+
		"pause_total_ms=%.3f gc_cpu_fraction=%.3f\n",
		liveB/1048576, nchurn, float64(t1.Sub(t0))/1e6, float64(t2.Sub(t1))/1e6,
		float64(maxWait)/1e6, p9999, float64(sumWait)/float64(nchurn),
		float64(ru.Maxrss)/1024, float64(ru.Maxrss)*1024/liveB, ms.NumGC, float64(pmax)/1e6,
		float64(p99)/1e6, float64(ms.PauseTotalNs)/1e6, ms.GCCPUFraction)
}
