// Go 1.19 counterpart of tests/bench/bench_sched.c (same measurements, same
// order and repetitions; see its header). Usage: main [N [name]].
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

// fanOut is the size of the fan-out/fan-in benchmark.
const fanOut = 10000

func main() {
	n := 1000000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	only := ""
	if len(os.Args) > 2 {
		only = os.Args[2]
	}
	run := func(name string) bool { return only == "" || only == name }
	fmt.Printf("GOMAXPROCS=%d\n", runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	if run("parked") {
		// First, while no stack is cached: parked goroutines on fresh stacks.
		never := make(chan int)
		runtime.GC()
		r0, t0 := statusKiB("VmRSS:"), statusKiB("VmPTE:")
		const parked = 10000
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
	}
	if run("create") {
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
	}
	if run("pingpong") {
		ping, pong := make(chan int), make(chan int)
		go func() {
			for v := range ping {
				pong <- v
			}
		}()
		m := n / 4
		best := time.Duration(1 << 62)
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
	if run("buffered") {
		c := make(chan int, 128)
		best := time.Duration(1 << 62)
		for rep := 0; rep < 5; rep++ {
			t0 := time.Now()
			go func() {
				for i := 0; i < n; i++ {
					c <- i
				}
			}()
			sum := 0
			for i := 0; i < n; i++ {
				sum += <-c
			}
			dt := time.Since(t0)
			if sum != n*(n-1)/2 {
				panic("buffered: wrong sum")
			}
			if dt < best {
				best = dt
			}
		}
		fmt.Printf("buffered channel (cap 128): %.1f ns per message\n", float64(best.Nanoseconds())/float64(n))
	}
	if run("fanout") {
		in, out := make(chan int), make(chan int)
		best := time.Duration(1 << 62)
		for rep := 0; rep < 5; rep++ {
			t0 := time.Now()
			for i := 0; i < fanOut; i++ {
				go func() {
					v := <-in
					out <- v * 2
				}()
			}
			go func() {
				for i := 0; i < fanOut; i++ {
					in <- i
				}
			}()
			sum := 0
			for i := 0; i < fanOut; i++ {
				sum += <-out
			}
			dt := time.Since(t0)
			if sum != fanOut*(fanOut-1) {
				panic("fanout: wrong sum")
			}
			if dt < best {
				best = dt
			}
		}
		us := float64(best.Nanoseconds()) / 1e3
		fmt.Printf("fan-out/fan-in, 10000 goroutines: %.0f us (%.0f ns per goroutine)\n", us, us*1e3/fanOut)
	}
}
