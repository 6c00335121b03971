#![allow(clippy::disallowed_methods)] // A build script: fs-err is not a build dependency.
//! Gives the binary a build id: a hash of everything that shapes its results (sources, table
//! contracts, the compiled-in region registry, locked dependency versions). Incremental reruns
//! compare it, so a rebuilt mittari never reuses outputs an older build wrote, even when the
//! version number did not change.
//!
//! It changes nothing about how the binary is linked: the toolchain's defaults (a
//! position-independent executable, so that address-space layout randomisation covers mittari's
//! own code too) are kept on purpose.

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
}
