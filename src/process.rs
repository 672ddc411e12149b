//! Process figures for `/metrics` (Prometheus' standard `process_*` series), read from
//! `/proc/self` on Linux; elsewhere only the uptime is given.

use std::fmt::Write;
use std::time::Duration;

/// Clock ticks per second of `/proc/<pid>/stat` times. Linux reports them in USER_HZ, which
/// is 100 on every architecture Prometheus' own procfs reader supports (it hard-codes it too).
const USER_HZ: f64 = 100.0;

/// The process figures.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ProcessFigures {
    pub resident_memory_bytes: Option<u64>,
    pub virtual_memory_bytes: Option<u64>,
    pub cpu_seconds_total: Option<f64>,
    pub open_fds: Option<u64>,
    pub uptime: Duration,
}

impl ProcessFigures {
    /// Reads the figures of this process.
    pub fn read(uptime: Duration) -> Self {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
        let (utime, stime) = parse_stat_cpu_ticks(&stat).unzip();
        Self {
            resident_memory_bytes: status_kib(&status, "VmRSS:").map(|k| k * 1024),
            virtual_memory_bytes: status_kib(&status, "VmSize:").map(|k| k * 1024),
            cpu_seconds_total: utime.zip(stime).map(|(u, s)| (u + s) as f64 / USER_HZ),
            open_fds: std::fs::read_dir("/proc/self/fd").ok().map(|d| d.count() as u64),
            uptime,
        }
    }

    /// The Prometheus text exposition.
    pub fn render_prometheus(&self) -> String {
        let mut out = String::new();
        let mut gauge = |name: &str, kind: &str, help: &str, value: Option<String>| {
            if let Some(value) = value {
                let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
            }
        };
        gauge(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            self.resident_memory_bytes.map(|v| v.to_string()),
        );
        gauge(
            "process_virtual_memory_bytes",
            "gauge",
            "Virtual memory size in bytes.",
            self.virtual_memory_bytes.map(|v| v.to_string()),
        );
        gauge(
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
            self.cpu_seconds_total.map(|v| format!("{v:.2}")),
        );
        gauge("process_open_fds", "gauge", "Number of open file descriptors.", self.open_fds.map(|v| v.to_string()));
        gauge(
            "coderlite_uptime_seconds",
            "gauge",
            "Seconds since the server started.",
            Some(format!("{:.3}", self.uptime.as_secs_f64())),
        );
        out
    }
}

/// The value in KiB of a `/proc/<pid>/status` line such as `VmRSS:    1234 kB`.
fn status_kib(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

/// (utime, stime) in clock ticks from `/proc/<pid>/stat`: fields 14 and 15, counted after
/// the parenthesised command name (which may itself contain spaces and parentheses).
fn parse_stat_cpu_ticks(stat: &str) -> Option<(u64, u64)> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_comm.split_whitespace();
    // after_comm starts at field 3 (state); utime is field 14.
    let utime = fields.nth(11)?.parse().ok()?;
    let stime = fields.next()?.parse().ok()?;
    Some((utime, stime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_cpu_ticks_skip_a_command_name_with_spaces() {
        let stat = "4242 (my (odd) cmd) S 1 4242 4242 0 -1 4194560 300 0 0 0 157 42 0 0 20 0 3 0 100 1000 50";
        assert_eq!(parse_stat_cpu_ticks(stat), Some((157, 42)));
        assert_eq!(parse_stat_cpu_ticks("garbage"), None);
    }

    #[test]
    fn status_lines_in_kib() {
        let status = "Name:\tcoderlite\nVmSize:\t  20480 kB\nVmRSS:\t   9000 kB\n";
        assert_eq!(status_kib(status, "VmRSS:"), Some(9000));
        assert_eq!(status_kib(status, "VmSize:"), Some(20480));
        assert_eq!(status_kib(status, "VmSwap:"), None);
    }

    #[test]
    fn rendering_leaves_out_unknown_figures() {
        let f =
            ProcessFigures { resident_memory_bytes: Some(4096), uptime: Duration::from_secs(2), ..Default::default() };
        let text = f.render_prometheus();
        assert!(text.contains("process_resident_memory_bytes 4096\n"), "{text}");
        assert!(text.contains("coderlite_uptime_seconds 2.000\n"), "{text}");
        assert!(!text.contains("process_open_fds"), "{text}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_figures() {
        let f = ProcessFigures::read(Duration::ZERO);
        assert!(f.resident_memory_bytes.is_some_and(|v| v > 0));
        assert!(f.cpu_seconds_total.is_some());
        assert!(f.open_fds.is_some_and(|v| v > 0));
    }
}
