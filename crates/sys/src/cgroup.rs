//! Control groups: the device cgroup (v1 `devices` controller, v2 BPF device
//! programs with a pinned map under `/sys/fs/bpf/snap`) and process tracking
//! (v1 freezer `snap.NAME`, v2 as current snapd), as snapd sets them up.
//! Filled by the confinement issue.
