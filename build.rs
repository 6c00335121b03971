#![allow(clippy::disallowed_methods)] // A build script: fs-err is not a build dependency.
//! Gives the binary a build id: a hash of everything that shapes its results (sources, table
//! contracts, the compiled-in region registry, locked dependency versions). Incremental reruns
//! compare it, so a rebuilt mittari never reuses outputs an older build wrote, even when the
//! version number did not change.
//!
//! On Linux with glibc it also links the binary position-dependent (`-no-pie`) unless
//! `MITTARI_PIE` is set at build time. A position-independent mittari carries 2.4 MB of pointer
//! tables that the dynamic loader rewrites at every start, and 3 MB of relocation records it
//! reads to do so: about 5 MB of every process's memory, a fifth of what converting a 14 MB
//! JSON-stat file takes in all. The price is that the executable's own code is not
//! address-randomised (its libraries, heap, stack and mappings still are); mittari has no
//! `unsafe` code of its own. README, "Memory and the binary".
//!
//! Optimised builds on `x86_64` Linux (where rustc links with its own lld) get
//! `link/order.txt` as lld's symbol order: the functions a run executes come first and together.
//! `MITTARI_NO_ORDER` at build time turns it off, for a linker that does not know the option.

use std::path::{Path, PathBuf};

const INPUTS: [&str; 5] = ["src", "schemas", "registry", "Cargo.lock", "Cargo.toml"];

fn files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map(|d| d.filter_map(|e| Some(e.ok()?.path())).collect())
            .unwrap_or_default();
        entries.sort();
        for e in entries {
            files(&e, out);
        }
    } else if path.is_file() {
        out.push(path.to_path_buf());
    }
}

/// 64-bit FNV-1a: enough to tell builds apart, and needs no dependency.
fn fnv1a(hash: &mut u64, bytes: &[u8]) {
    for b in bytes {
        *hash ^= u64::from(*b);
        *hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
}

fn main() {
    let mut all = Vec::new();
    for input in INPUTS {
        println!("cargo:rerun-if-changed={input}");
        files(Path::new(input), &mut all);
    }
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    for f in &all {
        fnv1a(&mut hash, f.to_string_lossy().as_bytes());
        fnv1a(&mut hash, &std::fs::read(f).unwrap_or_default());
    }
    println!("cargo:rustc-env=MITTARI_BUILD_ID={hash:016x}");

    println!("cargo:rerun-if-env-changed=MITTARI_PIE");
    let var = |key: &str| std::env::var(key).unwrap_or_default();
    if var("CARGO_CFG_TARGET_OS") == "linux"
        && var("CARGO_CFG_TARGET_ENV") == "gnu"
        && std::env::var_os("MITTARI_PIE").is_none()
    {
        // After rustc's own `-pie`: the last of the two counts.
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }

    // Optimised builds: lld lays out first the functions a run executes (link/order.txt, from
    // link/profile.sh), so a run's code sits on few pages. rustc links with its own lld on
    // x86_64 Linux; set MITTARI_NO_ORDER with another linker.
    println!("cargo:rerun-if-env-changed=MITTARI_NO_ORDER");
    println!("cargo:rerun-if-changed=link/order.txt");
    let order = Path::new(&var("CARGO_MANIFEST_DIR")).join("link/order.txt");
    if var("TARGET") == "x86_64-unknown-linux-gnu"
        && var("PROFILE") == "release"
        && std::env::var_os("MITTARI_NO_ORDER").is_none()
        && order.is_file()
    {
        for arg in [
            "-Xlinker".to_string(),
            format!("--symbol-ordering-file={}", order.display()),
            "-Xlinker".to_string(),
            "--no-warn-symbol-ordering".to_string(),
        ] {
            println!("cargo:rustc-link-arg-bins={arg}");
        }
    }
}
