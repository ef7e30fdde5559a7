//! Fixtures shared by Berth's end-to-end tests: busybox bundles and runtime drivers.
