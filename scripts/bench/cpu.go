package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// CPUFigures is the CPU time the processes behind one phase spent, per
// successful request: where a request's time goes when the machine is
// busy. The bench's own share is the load generator's (and, in the
// baseline's phases, the baseline server's, which runs in it).
type CPUFigures struct {
	Phase    string  `json:"phase"`
	Server   string  `json:"server"` // redprop | baseline
	Requests int     `json:"requests"`
	Seconds  float64 `json:"seconds"`
	// Milliseconds of CPU per successful request, by process.
	RedpropMS  float64 `json:"redprop_cpu_ms_per_request"`
	DatabaseMS float64 `json:"database_cpu_ms_per_request"`
	RedisMS    float64 `json:"redis_cpu_ms_per_request"`
	BenchMS    float64 `json:"bench_cpu_ms_per_request"`
	// Cores busy on average: the machine's as a whole (from /proc/stat),
	// and the part of it the four above account for.
	MachineCores float64 `json:"machine_cores_busy"`
	KnownCores   float64 `json:"known_cores_busy"`
}

// cpuWatch reads the CPU time of redprop's instances, the database
// server, Redis and the bench process at the start and end of a phase.
type cpuWatch struct {
	servers  []int
	database []int
	redis    []int
	start    cpuReading
	at       time.Time
}

type cpuReading struct {
	redprop, database, redis, bench, machine float64 // seconds
}

// clockTicks is the kernel's USER_HZ, the unit of /proc's CPU times
// (100 on every Linux this runs on).
const clockTicks = 100

func newCPUWatch(servers []int, database bool) *cpuWatch {
	w := &cpuWatch{servers: servers, redis: pidsNamed("redis-server")}
	if database {
		w.database = pidsNamed("mariadbd", "mysqld")
	}
	return w
}

func (w *cpuWatch) read() cpuReading {
	sum := func(pids []int) float64 {
		var s float64
		for _, p := range pids {
			s += cpuSeconds(p)
		}
		return s
	}
	return cpuReading{redprop: sum(w.servers), database: sum(w.database), redis: sum(w.redis),
		bench: cpuSeconds(os.Getpid()), machine: machineBusySeconds()}
}

func (w *cpuWatch) begin() {
	w.start, w.at = w.read(), time.Now()
}

// end returns the phase's figures for its successful requests.
func (w *cpuWatch) end(phase, server string, figs []Figure) CPUFigures {
	r, secs := w.read(), time.Since(w.at).Seconds()
	ok := 0
	for _, f := range figs {
		ok += f.Requests - f.Errors
	}
	per := func(d float64) float64 {
		if ok == 0 {
			return 0
		}
		return d * 1000 / float64(ok)
	}
	s := w.start
	known := (r.redprop - s.redprop) + (r.database - s.database) + (r.redis - s.redis) + (r.bench - s.bench)
	return CPUFigures{Phase: phase, Server: server, Requests: ok, Seconds: secs,
		RedpropMS: per(r.redprop - s.redprop), DatabaseMS: per(r.database - s.database), RedisMS: per(r.redis - s.redis),
		BenchMS: per(r.bench - s.bench), MachineCores: (r.machine - s.machine) / secs, KnownCores: known / secs}
}

// cpuSeconds is a process's user and system time (0 once it is gone).
func cpuSeconds(pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name is in parentheses and may hold spaces: fields
	// count from the last ')'.
	i := strings.LastIndexByte(string(raw), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / clockTicks
}

// machineBusySeconds is the CPU time of every core that was not idle or
// waiting for I/O, from the first line of /proc/stat.
func machineBusySeconds() float64 {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line)
	var busy float64
	for i, v := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		if i >= 8 { // guest times are inside user already
			break
		}
		n, _ := strconv.ParseFloat(v, 64)
		busy += n
	}
	return busy / clockTicks
}

// pidsNamed lists the processes whose command is one of names.
func pidsNamed(names ...string) []int {
	dirs, _ := filepath.Glob("/proc/[0-9]*/comm")
	var out []int
	for _, d := range dirs {
		raw, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		comm := strings.TrimSpace(string(raw))
		for _, n := range names {
			if comm == n {
				pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(d)))
				out = append(out, pid)
			}
		}
	}
	return out
}

// cpuMarkdown is the report's section of CPU per request.
func cpuMarkdown(figs []CPUFigures, engine string) string {
	if len(figs) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("\n## CPU per request\n\nCPU time of each process during the phase (user + system, from /proc), over the phase's successful requests. " +
		"The bench runs the load generator and, in the baseline's phases, the baseline server. ")
	if !strings.HasPrefix(engine, "MariaDB") {
		b.WriteString("On SQLite the database and Redis run inside redprop's process. ")
	}
	b.WriteString("Cores busy: the whole machine's, and the part these processes account for (the rest is other work on the machine).\n\n" +
		"| phase | server | req/s | redprop | database | Redis | bench | total | cores busy (machine / these) |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, f := range figs {
		total := f.RedpropMS + f.DatabaseMS + f.RedisMS + f.BenchMS
		fmt.Fprintf(&b, "| %s | %s | %.0f | %.2f ms | %.2f ms | %.2f ms | %.2f ms | %.2f ms | %.2f / %.2f |\n", f.Phase, f.Server,
			float64(f.Requests)/f.Seconds, f.RedpropMS, f.DatabaseMS, f.RedisMS, f.BenchMS, total, f.MachineCores, f.KnownCores)
	}
	return b.String()
}
