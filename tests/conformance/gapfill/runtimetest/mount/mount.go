// Package mount is the part of runtimetest's mount package that the stored
// upstream sources lack: the mountinfo record and its reader. Written for the
// Berth conformance harness; mountinfo_linux.go (upstream) does the parsing.
package mount

// Info is one line of /proc/self/mountinfo.
type Info struct {
	ID         int
	Parent     int
	Major      int
	Minor      int
	Root       string
	Mountpoint string
	Opts       string
	Optional   string
	Fstype     string
	Source     string
	VfsOpts    string
}

// GetMounts returns the calling process's mount table in mountinfo order.
func GetMounts() ([]*Info, error) {
	return parseMountTable()
}
