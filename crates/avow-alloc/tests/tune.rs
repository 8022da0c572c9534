//! `tune` changes exactly the two settings it is for.

#[global_allocator]
static ALLOC: avow_alloc::Allocator = avow_alloc::Allocator;

#[test]
fn tune_stops_purging_and_turns_off_huge_pages() {
    // The bundled mimalloc (v3) defaults the purge delay to 1000 ms: reading it before
    // tuning shows the option index points at purge_delay (its neighbours
    // default to 1 and 0).
    assert_eq!(avow_alloc::purge_delay_ms(), 1000, "option index or mimalloc default changed");
    avow_alloc::tune();
    assert_eq!(avow_alloc::purge_delay_ms(), -1);
    #[cfg(target_os = "linux")]
    assert!(avow_alloc::huge_pages_disabled());
    // Allocation still works with both changed.
    let v = vec![1u8; 64 << 20];
    assert_eq!(v.iter().map(|&b| b as usize).sum::<usize>(), 64 << 20);
}
