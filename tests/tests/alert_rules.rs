//! Issue #15: the alert rules the package ships pass `promtool check rules`, and `promtool
//! test rules` proves each fires where it should and stays quiet where it should not. They
//! name only metrics the monitors write, and judge staleness by the same age as `xfs-heal
//! status`.

use std::process::Command;

use xfs_heal_protocol::metrics::{FAMILIES, STALE_SECS};
use xfs_heal_tests::repo_root;

const RULES: &str = "systemd/prometheus/xfs-heal.rules.yml";
const RULE_TESTS: &str = "tests/prometheus/xfs-heal.rules.test.yml";

fn promtool(args: &[&str]) -> (bool, String) {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("promtool (Debian package prometheus)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[test]
fn the_rules_pass_promtool_check() {
    let (ok, out) = promtool(&["check", "rules", RULES]);
    assert!(ok && out.contains("SUCCESS: 7 rules found"), "{out}");
}

#[test]
fn each_alert_fires_when_it_should_and_not_otherwise() {
    let (ok, out) = promtool(&["test", "rules", RULE_TESTS]);
    assert!(ok && out.contains("SUCCESS"), "{out}");
    // Every alert has its cases, and a runbook.
    let rules = std::fs::read_to_string(repo_root().join(RULES)).unwrap();
    let tests = std::fs::read_to_string(repo_root().join(RULE_TESTS)).unwrap();
    let alerts: Vec<&str> = rules.lines().filter_map(|l| l.trim().strip_prefix("- alert: ")).collect();
    assert_eq!(alerts.len(), 7);
    for alert in &alerts {
        assert!(tests.contains(&format!("alertname: {alert}\n")), "{alert} has no test case");
    }
    assert_eq!(rules.matches("runbook: ").count(), alerts.len(), "a runbook line per alert");
}

#[test]
fn the_rules_name_only_what_the_monitors_write() {
    let rules = std::fs::read_to_string(repo_root().join(RULES)).unwrap();
    let used: Vec<&str> = rules
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("xfs_heal_"))
        .collect();
    assert!(used.len() >= 7, "{used:?}");
    for name in used {
        assert!(FAMILIES.iter().any(|f| f.name == name), "{name} is not a family the monitor writes");
    }
    assert!(rules.contains(&format!("> {STALE_SECS}\n")), "the stale age is {STALE_SECS} s");
}
