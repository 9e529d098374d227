//! Paths a store never follows or creates: a symbolic link in place of the store or one of
//! its files is refused by name (its target's mode and contents untouched), and an empty
//! name is refused instead of creating `./.session`.

mod common;

use std::os::unix::fs::{PermissionsExt, symlink};

use sessiondb::{Error, Store};

fn refused_naming(r: sessiondb::Result<Store>, name: &str) {
    match r {
        Err(Error::InvalidArgument(why)) => {
            assert!(why.contains("symbolic link") && why.contains(name), "{why}")
        }
        other => panic!(
            "expected a refusal naming {name}, got {:?}",
            other.map(|_| ())
        ),
    }
}

#[test]
fn a_symlinked_file_inside_a_store_is_refused_and_its_target_untouched() {
    for file in ["LOCK", "index.redb"] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bot");
        Store::open(&path).unwrap().close().unwrap();
        let sdir = dir.path().join("bot.session");
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, b"not ours").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::remove_file(sdir.join(file)).unwrap();
        symlink(&target, sdir.join(file)).unwrap();
        refused_naming(Store::open(&path), file);
        refused_naming(Store::open_read_only(&path), file);
        let meta = std::fs::metadata(&target).unwrap();
        assert_eq!(
            meta.permissions().mode() & 0o777,
            0o644,
            "{file}: target chmodded"
        );
        assert_eq!(std::fs::read(&target).unwrap(), b"not ours");
    }
}

#[test]
fn a_symlinked_store_directory_is_refused_and_left_empty() {
    let dir = tempfile::tempdir().unwrap();
    let foreign = dir.path().join("somebody-elses");
    std::fs::create_dir(&foreign).unwrap();
    symlink(&foreign, dir.path().join("bot.session")).unwrap();
    refused_naming(Store::open(dir.path().join("bot")), "bot.session");
    assert_eq!(std::fs::read_dir(&foreign).unwrap().count(), 0, "populated");
}

#[test]
fn an_empty_name_is_refused() {
    let r = Store::open("").map(|_| ());
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
    assert!(!std::path::Path::new(".session").exists());
}
