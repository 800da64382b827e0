// The Go twin of tests/bench/bench_threads.c: N goroutines each build a
// list of 16-byte nodes and drop it every 4096 nodes, TOTAL allocations in
// all; GOMAXPROCS as the environment says (default: the CPUs).
//
//	threads N [TOTAL]
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"
)

type node struct {
	next *node
	v    int64
}

func work(iters int64, wg *sync.WaitGroup) {
	defer wg.Done()
	var keep *node
	for i := int64(0); i < iters; i++ {
		n := &node{v: i}
		n.next = keep
		keep = n
		if i&4095 == 0 {
			keep = nil
		}
	}
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: threads N [TOTAL]")
		os.Exit(2)
	}
	n, _ := strconv.Atoi(os.Args[1])
	total := int64(64 << 20)
	if len(os.Args) > 2 {
		total, _ = strconv.ParseInt(os.Args[2], 10, 64)
	}
	if n < 1 || total < int64(n) {
		fmt.Fprintln(os.Stderr, "threads: N must be at least 1 and TOTAL at least N")
		os.Exit(2)
	}
	t0 := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go work(total/int64(n), &wg)
	}
	wg.Wait()
	wall := time.Since(t0)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	k := int(ms.NumGC)
	if k > 256 {
		k = 256
	}
	p := append([]uint64(nil), ms.PauseNs[:k]...)
	sort.Slice(p, func(i, j int) bool { return p[i] < p[j] })
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	q := func(i int) float64 {
		if k == 0 {
			return 0
		}
		return float64(p[i]) / 1e6
	}
	fmt.Printf("go goroutines=%d gomaxprocs=%d wall=%.2fs gcs=%d pause_p50_ms=%.3f pause_p99_ms=%.3f pause_max_ms=%.3f maxrss_mib=%.1f\n",
		n, runtime.GOMAXPROCS(0), wall.Seconds(), ms.NumGC, q(k/2), q(k*99/100), q(k-1), float64(ru.Maxrss)/1024)
}
