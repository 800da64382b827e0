// Go 1.19 counterpart of tests/bench/bench_sched.c (same measurements).
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"sync"
	"time"
)

func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, res uint64
	fmt.Sscan(string(b), &size, &res)
	return res * uint64(os.Getpagesize())
}

func main() {
	n := 1000000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	fmt.Printf("GOMAXPROCS=%d\n", runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
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

	never := make(chan int)
	runtime.GC()
	r0 := rss()
	const parked = 10000
	wg.Add(parked)
	for i := 0; i < parked; i++ {
		go func() { wg.Done(); <-never }()
	}
	wg.Wait()
	time.Sleep(10 * time.Millisecond)
	r1 := rss()
	fmt.Printf("memory per parked goroutine: %.0f bytes\n", float64(r1-r0)/parked)
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
}
