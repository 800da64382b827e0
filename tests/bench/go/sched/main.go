// Go 1.19 counterpart of tests/bench/bench_sched.c (same measurements).
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// statusKiB reads a field of /proc/self/status in KiB (VmRSS, VmPTE).
func statusKiB(key string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, key) {
			var v int64
			fmt.Sscan(strings.TrimSpace(line[len(key):]), &v)
			return v
		}
	}
	return 0
}

func main() {
	n := 1000000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	fmt.Printf("GOMAXPROCS=%d\n", runtime.GOMAXPROCS(0))
	// First, while no stack is cached: parked goroutines on fresh stacks.
	never := make(chan int)
	runtime.GC()
	r0, t0 := statusKiB("VmRSS:"), statusKiB("VmPTE:")
	const parked = 10000
	var wg sync.WaitGroup
	wg.Add(parked)
	for i := 0; i < parked; i++ {
		go func() { wg.Done(); <-never }()
	}
	wg.Wait()
	time.Sleep(10 * time.Millisecond)
	r1, t1 := statusKiB("VmRSS:"), statusKiB("VmPTE:")
	fmt.Printf("memory per parked goroutine: %.0f bytes RSS + %.0f bytes page tables\n",
		float64(r1-r0)*1024/parked, float64(t1-t0)*1024/parked)
	debug.SetGCPercent(-1)
	var pauses []uint64
	var ms runtime.MemStats
	for i := 0; i < 200; i++ {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		pauses = append(pauses, ms.PauseNs[(ms.NumGC+255)%256])
	}
	sort.Slice(pauses, func(i, j int) bool { return pauses[i] < pauses[j] })
	fmt.Printf("stop-the-world, 10000 parked goroutines: median %.1f us, max %.1f us (GC pause)\n",
		float64(pauses[len(pauses)/2])/1e3, float64(pauses[len(pauses)-1])/1e3)
	close(never)
	debug.SetGCPercent(100)
	best := time.Duration(1 << 62)
	for rep := 0; rep < 5; rep++ {
		t0 := time.Now()
		wg.Add(n)
		for i := 0; i < n; i++ {
			go func() { wg.Done() }()
		}
		wg.Wait()
		if dt := time.Since(t0); dt < best {
			best = dt
		}
	}
	fmt.Printf("goroutine create+exit: %.0f ns\n", float64(best.Nanoseconds())/float64(n))

	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v
		}
	}()
	m := n / 4
	best = time.Duration(1 << 62)
	for rep := 0; rep < 5; rep++ {
		t0 := time.Now()
		for i := 0; i < m; i++ {
			ping <- i
			<-pong
		}
		if dt := time.Since(t0); dt < best {
			best = dt
		}
	}
	close(ping)
	fmt.Printf("unbuffered ping-pong round trip: %.0f ns\n", float64(best.Nanoseconds())/float64(m))

}
