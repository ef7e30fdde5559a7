package main

// strToRlimit maps an OCI rlimit name to its Linux resource number; the
// upstream file holding it is not in the stored sources, so the harness
// supplies it (values from <asm-generic/resource.h>).

import "fmt"

var rlimitNumbers = map[string]int{
	"RLIMIT_CPU":        0,
	"RLIMIT_FSIZE":      1,
	"RLIMIT_DATA":       2,
	"RLIMIT_STACK":      3,
	"RLIMIT_CORE":       4,
	"RLIMIT_RSS":        5,
	"RLIMIT_NPROC":      6,
	"RLIMIT_NOFILE":     7,
	"RLIMIT_MEMLOCK":    8,
	"RLIMIT_AS":         9,
	"RLIMIT_LOCKS":      10,
	"RLIMIT_SIGPENDING": 11,
	"RLIMIT_MSGQUEUE":   12,
	"RLIMIT_NICE":       13,
	"RLIMIT_RTPRIO":     14,
	"RLIMIT_RTTIME":     15,
}

func strToRlimit(key string) (int, error) {
	n, ok := rlimitNumbers[key]
	if !ok {
		return -1, fmt.Errorf("wrong rlimit value: %s", key)
	}
	return n, nil
}
