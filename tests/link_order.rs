#![allow(clippy::disallowed_methods, clippy::unwrap_used)] // Tests: plain std::fs, unwrap on setup.
//! `link/hot_functions.py`, which turns callgrind profiles into the linker's symbol order
//! (`link/order.txt`, README "Memory and the binary"): own costs, not a call's inclusive cost;
//! callees named on their `cfn=` line; earlier profiles first; only names the binary defines.
#![cfg(target_os = "linux")]

mod common;

use std::process::Command;

use common::*;

/// Two functions the test's mittari binary defines, as `nm` lists them (not `main`, which the
/// test uses as a third).
fn two_defined_names() -> (String, String) {
    let out = Command::new("nm")
        .args(["--defined-only", env!("CARGO_BIN_EXE_mittari")])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut names = text.lines().filter_map(|l| {
        let parts: Vec<&str> = l.split_whitespace().collect();
        (parts.len() == 3 && parts[1] == "T" && parts[2] != "main").then(|| parts[2].to_string())
    });
    (names.next().unwrap(), names.next().unwrap())
}

#[test]
fn hot_functions_orders_by_own_cost_and_profile() {
    let (a, b) = two_defined_names();
    let dir = tempfile::TempDir::new().unwrap();
    // `a` costs 5 + 10 + 200 itself (the last at the same position, `*`) and calls `b` (100 in
    // all), which first appears as a callee and costs 100 itself; `absent` costs most but the
    // binary does not define it.
    let first = format!(
        "version: 1\ncreator: callgrind\nevents: Ir\nob=(1) mittari\nfl=(1) ???\n\
         fn=(1) {a}\n0 5\ncfn=(2) {b}\ncalls=1 0\n0 100\n\
         fn=(3) absent_from_the_binary\n0 1000\n\
         fn=(2)\n0 100\n\
         fn=(1)\n+1 10\n* 200\n"
    );
    // The second profile runs `a` most, but it came first in the first profile already.
    let second = format!("version: 1\nevents: Ir\nfn=(1) {a}\n0 99999\nfn=(2) main\n0 1\n");
    std::fs::write(dir.path().join("1.out"), first).unwrap();
    std::fs::write(dir.path().join("2.out"), second).unwrap();
    let out = Command::new("python3")
        .arg(repo().join("link/hot_functions.py"))
        .arg(env!("CARGO_BIN_EXE_mittari"))
        .arg(dir.path().join("1.out"))
        .arg(dir.path().join("2.out"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let order = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = order.lines().collect();
    assert_eq!(lines, [a.as_str(), b.as_str(), "main"]);
}
