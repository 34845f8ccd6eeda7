//! The fstab generator, run as systemd runs it (a binary given an output directory), against
//! a root of our own: which links it writes, and when it writes none. Unit names are checked
//! against systemd's own `systemd-escape`. (Under systemd as PID 1, at boot and on later
//! mounts: VM scenario U7.)

use std::path::Path;
use std::process::Command;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use xfs_heal_protocol::fstab;
use xfs_heal_tests::*;

/// Runs the generator on a root holding `fstab`, with xfs-heal.target enabled or not;
/// returns every link it made, as "DIR/NAME -> TARGET", sorted.
fn generate(scratch: &Scratch, fstab_text: &str, enabled: bool) -> Vec<String> {
    generate_bytes(scratch, fstab_text.as_bytes(), enabled).0
}

/// [`generate`] from fstab's bytes; also what the generator said on stderr.
fn generate_bytes(scratch: &Scratch, fstab_text: &[u8], enabled: bool) -> (Vec<String>, String) {
    let root = scratch.path("root");
    let wants = root.join("etc/systemd/system/multi-user.target.wants");
    std::fs::create_dir_all(&wants).unwrap();
    std::fs::write(root.join("etc/fstab"), fstab_text).unwrap();
    let link = wants.join("xfs-heal.target");
    let _ = std::fs::remove_file(&link);
    if enabled {
        std::os::unix::fs::symlink(repo_root().join("systemd/xfs-heal.target"), &link).unwrap();
    }
    let out_dir = scratch.path("generator");
    let _ = std::fs::remove_dir_all(&out_dir);
    std::fs::create_dir(&out_dir).unwrap();
    let early = scratch.path("early");
    let out = Command::new(binary("xfs-heal-generator"))
        .args([&out_dir, &early, &scratch.path("late")])
        .env("XFS_HEAL_GENERATOR_ROOT", &root)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(!early.exists(), "nothing goes to the early directory");
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    let mut links = Vec::new();
    for dir in std::fs::read_dir(&out_dir).unwrap().flatten() {
        for l in std::fs::read_dir(dir.path()).unwrap().flatten() {
            let target = std::fs::read_link(l.path()).unwrap();
            let name = Path::new(&dir.file_name()).join(l.file_name());
            links.push(format!("{} -> {}", name.display(), target.display()));
        }
    }
    links.sort();
    (links, said)
}

#[test]
fn every_xfs_entry_of_fstab_gets_its_monitor_once_the_target_is_enabled() {
    let scratch = Scratch::new("generator");
    // "/" is always mounted (so it is also wanted by the target); the others are not here.
    let fstab_text = "\
UUID=0 / xfs defaults 0 1
LABEL=data /mnt/data xfs defaults 0 2
LABEL=off /mnt/off xfs noatime,x-xfs-heal=off 0 2
/dev/sdb1 /srv/my-files xfs noauto 0 2
/dev/sdc1 /srv/ext ext4 defaults 0 2
";
    let template = "/usr/lib/systemd/system/xfs-heal-monitor@.service";
    assert_eq!(
        generate(&scratch, fstab_text, true),
        [
            format!("-.mount.wants/xfs-heal-monitor@-.service -> {template}"),
            format!("mnt-data.mount.wants/xfs-heal-monitor@mnt-data.service -> {template}"),
            format!("srv-my\\x2dfiles.mount.wants/xfs-heal-monitor@srv-my\\x2dfiles.service -> {template}"),
            format!("xfs-heal.target.wants/xfs-heal-monitor@-.service -> {template}"),
        ]
    );
    assert!(generate(&scratch, fstab_text, false).is_empty(), "not enabled: nothing");
    assert!(generate(&scratch, "", true).is_empty(), "no fstab entries: nothing");
}

/// The unit names match what systemd itself makes of the same paths.
#[test]
fn instance_names_match_systemd_escape() {
    let paths: Vec<String> = {
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let strategy = proptest::collection::vec("[a-zA-Z0-9 ._:@+=,-]{1,8}|[äß\\\\]", 1..5);
        (0..200)
            .map(|_| {
                let parts = strategy.new_tree(&mut runner).unwrap().current();
                format!("/{}", parts.join("/"))
            })
            .filter(|p| !p.split('/').any(|c| c == ".."))
            .collect()
    };
    let out =
        Command::new("systemd-escape").arg("--path").arg("--").args(&paths).output().expect("systemd-escape");
    assert!(out.status.success(), "{out:?}");
    let theirs: Vec<String> =
        String::from_utf8(out.stdout).unwrap().split_whitespace().map(str::to_owned).collect();
    let ours: Vec<String> =
        paths.iter().map(|p| fstab::escape_path(p).expect("absolute, normalised")).collect();
    assert_eq!(ours, theirs);
}

/// Audit finding 8. Before: one byte of fstab that was not UTF-8 made the generator write
/// nothing, so every mount fell back to xfs_healer. After: that line alone is left out, and
/// said; a `\000` never reaches an instance name; a mount point too long for a unit name
/// leaves no directory behind.
#[test]
fn a_line_it_cannot_use_is_left_out_alone_and_said() {
    let scratch = Scratch::new("generator-bytes");
    let mut fstab_text = b"LABEL=data /mnt/data xfs defaults 0 2\n# caf\xe9 au lait\n".to_vec();
    fstab_text.extend_from_slice(b"LABEL=bad /mnt/caf\xe9 xfs defaults 0 2\n");
    fstab_text.extend_from_slice(b"LABEL=nul /mnt/a\\000b xfs defaults 0 2\n");
    fstab_text.extend_from_slice(format!("LABEL=long /{} xfs defaults 0 2\n", "l".repeat(240)).as_bytes());
    fstab_text.extend_from_slice(b"LABEL=srv /srv/files xfs defaults 0 2\n");
    let (links, said) = generate_bytes(&scratch, &fstab_text, true);
    let template = "/usr/lib/systemd/system/xfs-heal-monitor@.service";
    assert_eq!(
        links,
        [
            format!("mnt-data.mount.wants/xfs-heal-monitor@mnt-data.service -> {template}"),
            format!("srv-files.mount.wants/xfs-heal-monitor@srv-files.service -> {template}"),
        ]
    );
    for (line, why) in [(3, "not UTF-8"), (4, "NUL"), (5, "too long")] {
        assert!(
            said.lines().any(|l| l.contains(&format!("/etc/fstab line {line}: left out")) && l.contains(why)),
            "line {line}: {said}"
        );
    }
    // Nothing else in the output directory: no directory made for a link that could not be.
    let dirs: Vec<_> =
        std::fs::read_dir(scratch.path("generator")).unwrap().flatten().map(|d| d.file_name()).collect();
    assert_eq!(dirs.len(), 2, "{dirs:?}");
}
