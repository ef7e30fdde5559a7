package util

// GetRuntimeToolsNamespace maps a /proc/<pid>/ns entry name to the namespace
// type name the runtime-tools generator uses ("mnt" -> "mount", "net" ->
// "network"). The stored upstream util sources lack it, so the Berth
// conformance harness supplies it.
func GetRuntimeToolsNamespace(ns string) string {
	switch ns {
	case "mnt":
		return "mount"
	case "net":
		return "network"
	}
	return ns
}
